"""NETboard settings: one file, every value from the environment (see .env.example)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import jinja2
import pghistory
from django.core.exceptions import ImproperlyConfigured

from netboard.env import (
    check_redis_url,
    env_bool,
    env_int,
    env_json_object,
    env_list,
    env_str,
    env_uid_root,
    parse_database_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# --- Core -----------------------------------------------------------------------------------
DEBUG = env_bool("DJANGO_DEBUG", default=True)
_DEV_SECRET_KEY = "django-insecure-netboard-local-development-only"  # noqa: S105 - dev default
SECRET_KEY = env_str("DJANGO_SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else None)
if not DEBUG and (SECRET_KEY == _DEV_SECRET_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be a random string of at least 50 characters when DJANGO_DEBUG=0."
    )
ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS is required when DJANGO_DEBUG=0.")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "pgtrigger",
    "pghistory",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "apps.core",
    "apps.patients",
    "apps.imaging",
    "apps.scoring",
    "apps.decisions",
    "apps.outcomes",
    "apps.fhir",
    "apps.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.core.middleware.RequestIdMiddleware",
    "apps.core.middleware.BodyLimitMiddleware",
    # Before anything that reads the database: PostgreSQL down is a 503, a deadlock one retry.
    "apps.core.database.DatabaseErrorMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session passed the second factor (django-otp).
    "django_otp.middleware.OTPMiddleware",
    # Idle timeout and absolute lifetime of a session, before the login requirement.
    "apps.core.sessions.SessionLimitsMiddleware",
    "apps.core.middleware.LoginRequiredMiddleware",
    # A session whose user must use two-factor sign-in but has not is signed out.
    "apps.core.mfa.MfaRequiredMiddleware",
    "apps.core.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last (as django-axes asks): turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "netboard.urls"
WSGI_APPLICATION = "netboard.wsgi.application"
ASGI_APPLICATION = "netboard.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
    {
        # One template, the timeline's SVG (templates/jinja2/patients/timeline.svg, which says
        # why); asked for by name with using="jinja2". Autoescaping as Django's own; a name the
        # template uses that the context lacks is an error, not an empty string.
        "NAME": "jinja2",
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"autoescape": True, "undefined": jinja2.StrictUndefined},
    },
]

# --- Database: PostgreSQL only ----------------------------------------------------------------
# `make run` without DATABASE_URL starts the embedded server (netboard/embedded_pg.py) and
# exports its URL; the default below is the local server that `make test` uses.
DATABASE_URL = env_str("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/netboard")
DATABASES = {"default": parse_database_url("DATABASE_URL", DATABASE_URL)}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["TEST"] = {"NAME": "test_" + DATABASES["default"]["NAME"]}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and Celery ------------------------------------------------------------------
_redis = env_str("REDIS_URL", default="")
REDIS_URL = check_redis_url("REDIS_URL", _redis) if _redis else ""
_broker = env_str("CELERY_BROKER_URL", default="") or REDIS_URL
CELERY_BROKER_URL = check_redis_url("CELERY_BROKER_URL", _broker) if _broker else ""
if REDIS_URL:
    CACHES = {
        "default": {
            # Fails open: with Redis down, a miss and a dropped write (apps/core/cache.py).
            "BACKEND": "apps.core.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that does not answer costs a request one second at most, and then this
            # process leaves it alone for a few seconds.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Without a broker (a laptop running `make run` with nothing else) tasks run in-process.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Recomputes take milliseconds: a few messages in hand per worker process save a broker round
# trip per task. Unacknowledged messages of a worker that dies return after the visibility timeout.
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
# A task running longer than this is killed (hard limit); the soft limit comes a little earlier.
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", default=120, minimum=2)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - max(1, CELERY_TASK_TIME_LIMIT // 6)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fixup closes every database connection before and after each task unless this
# is set (a new connection, and no prepared statements, per task: 2x the recompute time). Workers
# instead reuse connections and check them before each task (netboard/celery.py).
CELERY_DB_REUSE_MAX = 1000
CELERY_TIMEZONE = "UTC"
# A message a worker took and never acknowledged (the worker was killed) goes back to the queue
# after this many seconds. It must exceed the task time limit, or a slow task would run twice.
CELERY_VISIBILITY_TIMEOUT = env_int(
    "CELERY_VISIBILITY_TIMEOUT", default=600, minimum=CELERY_TASK_TIME_LIMIT + 1
)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # Workers look for such messages this often (kombu's default is every 100 s).
    "unacked_restore_interval": min(10, max(1, CELERY_VISIBILITY_TIMEOUT // 4)),
    "unacked_restore_throttle": 1,
}
# Publishing to a broker that is down fails fast: the write is committed anyway, the patient is
# left `stale`, and the sweeper queues it once the broker is back.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2}
# The sweeper queues every patient whose assessment is stale (apps/scoring/tasks.py).
NETBOARD_SWEEP_SECONDS = env_int("NETBOARD_SWEEP_SECONDS", default=60, minimum=1)
# Patients per task of a regrade (the sweeper, `manage.py regrade`): each chunk is claimed, read
# and stored with a fixed number of queries (apps/scoring/services.py, assessments_recompute).
NETBOARD_REGRADE_CHUNK = env_int("NETBOARD_REGRADE_CHUNK", default=100, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "sweep-stale-assessments": {
        "task": "scoring.sweep_stale",
        "schedule": float(NETBOARD_SWEEP_SECONDS),
        "options": {"expires": float(NETBOARD_SWEEP_SECONDS)},
    },
    "purge-idempotency-keys": {"task": "core.purge_idempotency_keys", "schedule": 3600.0},
}

# Survival analytics (apps/outcomes/survival.py): below this many patients in a group the
# curves are shown but no log-rank test is computed.
NETBOARD_SURVIVAL_MIN_GROUP = env_int("NETBOARD_SURVIVAL_MIN_GROUP", default=10, minimum=2)

# --- Clinical rules (DOMAIN.md §10) -----------------------------------------------------------
NETBOARD_RULES = env_json_object("NETBOARD_RULES")


def _validate_rules(overrides: dict[str, object]) -> None:
    from apps.scoring.rules.inputs import Thresholds

    try:
        Thresholds.from_overrides(overrides)
    except ValueError as exc:
        raise ImproperlyConfigured(f"NETBOARD_RULES: {exc}") from None


_validate_rules(NETBOARD_RULES)

# --- Auth -------------------------------------------------------------------------------------
# The lockout check (django-axes), then Django's ModelBackend with a user's permissions read in
# one query (apps/core/backends.py).
AUTHENTICATION_BACKENDS = [
    "apps.core.backends.LockoutBackend",
    "apps.core.backends.OneQueryModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "apps.core.passwords.DemoPasswordValidator"},
]
# The published demo password (apps/demo) signs in only while DJANGO_DEBUG=1 (fixed at start-up:
# apps/core/passwords.py).
NETBOARD_DEMO_SIGNIN = DEBUG
LOGIN_URL = "login"
# Two-factor sign-in (django-otp, apps/core/mfa.py): users in these roles ("staff": anyone who
# may use the Django admin) must enrol an authenticator app at their first sign-in and give a
# code at every sign-in; anyone else may enrol and then must too. None by default while
# DJANGO_DEBUG=1, so the demo of `make run` works at once without a phone.
# "none": no role must (anyone may still enrol).
NETBOARD_MFA_REQUIRED_ROLES = [
    role
    for role in env_list(
        "NETBOARD_MFA_REQUIRED_ROLES", default=[] if DEBUG else ["admin", "clinician", "staff"]
    )
    if role != "none"
]
_MFA_ROLES = {"reader", "clinician", "coordinator", "auditor", "admin", "staff"}
if set(NETBOARD_MFA_REQUIRED_ROLES) - _MFA_ROLES:
    raise ImproperlyConfigured(
        "NETBOARD_MFA_REQUIRED_ROLES: unknown role(s) "
        f"{', '.join(sorted(set(NETBOARD_MFA_REQUIRED_ROLES) - _MFA_ROLES))}; "
        f"choose from {', '.join(sorted(_MFA_ROLES))}."
    )
OTP_TOTP_ISSUER = "NETboard"
# Each wrong code doubles the wait before the device accepts another (1 s, 2 s, 4 s...), on top
# of the sign-in lockout, which counts wrong codes as failed sign-ins.
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Client addresses: the number of reverse proxies in front of NETboard that append to
# X-Forwarded-For (0: none, the connection's address is the client's). Used by the sign-in
# lockout per address and the API's rate limits alike (apps/core/signin.py, client_address).
NETBOARD_TRUSTED_PROXIES = env_int("NETBOARD_TRUSTED_PROXIES", default=0)

# Sign-in lockout (django-axes, apps/core/signin.py): this many failures for one user name, or
# from one address, each within the lockout time of the previous one, lock that name or address
# for the lockout time (counted from the last attempt) or until an administrator unlocks.
NETBOARD_SIGNIN_FAILURE_LIMIT = env_int("NETBOARD_SIGNIN_FAILURE_LIMIT", default=5, minimum=1)
NETBOARD_SIGNIN_LOCKOUT_SECONDS = env_int(
    "NETBOARD_SIGNIN_LOCKOUT_SECONDS", default=15 * 60, minimum=60
)
AXES_ENABLED = True
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"  # attempts kept in PostgreSQL
AXES_FAILURE_LIMIT = NETBOARD_SIGNIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(seconds=NETBOARD_SIGNIN_LOCKOUT_SECONDS)
# Two separate parameters: either one reaching the limit locks (not their combination).
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "apps.core.signin.client_address"
AXES_LOCKOUT_CALLABLE = "apps.core.signin.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# Sign-ins, failures, lockouts and unlocks are in core.SecurityEvent; axes keeps only the
# attempts that count toward a lockout.
AXES_DISABLE_ACCESS_LOG = True
AXES_ENABLE_ACCESS_FAILURE_LOG = False
# apps/core/admin.py shows the attempts, with an audited unlock; axes' own admin would delete
# them unaudited.
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
WHITENOISE_USE_FINDERS = DEBUG  # serve straight from static/ in development, no collectstatic
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Audit (django-pghistory): context travels in every event row; events are append-only ----
PGHISTORY_CONTEXT_FIELD = pghistory.ContextJSONField()
PGHISTORY_APPEND_ONLY = True
PGHISTORY_MIDDLEWARE_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PGHISTORY_OBJ_FIELD = pghistory.ObjForeignKey(db_index=True)

# --- REST framework ---------------------------------------------------------------------------


def _rate(name: str, default: str) -> str:
    """A rate such as `3000/min` (per second, min, hour or day)."""
    value = env_str(name, default=default)
    number, _, period = value.partition("/")
    if not number.isdigit() or int(number) < 1 or period not in {"s", "sec", "min", "hour", "day"}:
        raise ImproperlyConfigured(
            f"{name} must look like 600/min (s, min, hour, day); got {value!r}."
        )
    return value


REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.core.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.core.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.StrictLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["apps.core.filters.FilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [
        "apps.core.throttles.TokenRateThrottle",
        "apps.core.throttles.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "token": _rate("NETBOARD_API_RATE_TOKEN", "3000/min"),
        "user": _rate("NETBOARD_API_RATE_USER", "600/min"),
        "anon": _rate("NETBOARD_API_RATE_ANON", "60/min"),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.problems.problem_exception_handler",
    "DEFAULT_VERSIONING_CLASS": None,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # The client address for the per-address rate limit: as the sign-in lockout's.
    "NUM_PROXIES": NETBOARD_TRUSTED_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "NETboard API",
    "DESCRIPTION": "Molecular imaging phenotyping for the neuroendocrine tumour board.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "ENUM_NAME_OVERRIDES": {"AssessmentStatusEnum": "apps.scoring.serializers.ASSESSMENT_STATUS"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.core.schema_glossary.describe_fields",
    ],
}

# --- Security: on whenever DJANGO_DEBUG=0 -----------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Sessions (apps/core/sessions.py): database sessions that know their user (so a user can be
# signed out everywhere), signed out after NETBOARD_SESSION_IDLE_SECONDS without activity and
# SESSION_COOKIE_AGE after signing in, however active.
SESSION_ENGINE = "apps.core.sessions"
SESSION_COOKIE_AGE = env_int("DJANGO_SESSION_AGE_SECONDS", default=8 * 3600, minimum=60)
NETBOARD_SESSION_IDLE_SECONDS = env_int(
    "NETBOARD_SESSION_IDLE_SECONDS", default=15 * 60, minimum=60
)
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
# Container and load-balancer health checks speak plain http inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = 0 if DEBUG else env_int("DJANGO_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
if env_bool("DJANGO_TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HSTS preload is a commitment for public internet domains; hospital intranet hosts are not on
# the browsers' preload list, so the preload check is silenced on purpose.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
# Content Security Policy: every asset is ours (no CDN), no inline script or style.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- Request limits ---------------------------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("NETBOARD_MAX_BODY_BYTES", default=2_621_440, minimum=1024)
# The organisation's DICOM UID root, under which the SR export derives its UIDs (tracking UIDs of
# lesions without one, series, device; apps/imaging/dicom_sr_export.py). None: pydicom's root,
# which every NETboard shares: two sites would derive the same UIDs for their lesion ids.
NETBOARD_DICOM_UID_ROOT = env_uid_root("NETBOARD_DICOM_UID_ROOT")

# --- Logging: ids only, never patient data ----------------------------------------------------
LOG_LEVEL = env_str("DJANGO_LOG_LEVEL", default="INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"DJANGO_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL; got {LOG_LEVEL!r}."
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # highdicom and pydicom log at INFO about the datasets they read and write (their UIDs
        # and attribute values): warnings only.
        "highdicom": {"level": "WARNING"},
        "pydicom": {"level": "WARNING"},
        # django-axes logs every sign-in at INFO; failures and lockouts (names and addresses
        # masked) at WARNING. Sign-ins are in the security log (core.SecurityEvent).
        "axes": {"level": "WARNING"},
    },
}
