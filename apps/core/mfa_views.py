"""The sign-in pages with a second factor (apps/core/mfa.py): password, then code or enrolment;
and the user's own two-factor page (enrol, renew recovery codes)."""

from __future__ import annotations

import base64
import io
from typing import Any

import qrcode
import qrcode.image.svg
from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import LoginView, redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from apps.core import mfa
from apps.core.signin import lockout_response


class CodeForm(forms.Form):
    """The code typed on the code, enrolment and two-factor pages (their templates write the
    input, with its autocomplete and keyboard hints)."""

    code = forms.CharField(label="Code", max_length=32, strip=True)


class SignInView(LoginView):
    """Django's login page; a user who needs a second factor goes on to the code (or the
    enrolment) page instead of being signed in."""

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        if not mfa.needs_second_factor(user):
            return super().form_valid(form)
        mfa.pending_start(self.request, user, self.get_success_url())
        return redirect("mfa-verify")


def _sign_in(request: HttpRequest, user: Any, device: Any, how: str) -> None:
    mfa.pending_clear(request)
    user.otp_device = device  # django-otp marks the session verified when Django signs in
    request.netboard_signin_factor = how  # type: ignore[attr-defined] # for the security log
    auth_login(request, user, backend=user.backend)


def _start_again(request: HttpRequest) -> HttpResponse:
    messages.info(request, "Your sign-in timed out before the code: please sign in again.")
    return redirect_to_login(resolve_url("home"))


@login_not_required
@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """The second step of a sign-in: a code from the authenticator app or a recovery code."""
    found = mfa.pending_user(request)
    if found is None:
        return _start_again(request)
    user, pending = found
    if mfa.authenticator(user) is None and mfa.recovery_codes_left(user) == 0:
        return redirect("mfa-enrol")  # required and not enrolled (or reset by an administrator)
    credentials = {"username": user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials):
        mfa.pending_clear(request)
        return lockout_response(request)
    form = CodeForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        wait = mfa.wait_seconds(user)
        accepted = None if wait else mfa.code_verify(user, form.cleaned_data["code"])
        if accepted is not None:
            device, how = accepted
            _sign_in(request, user, device, how)
            if how == "recovery code":
                mfa.recovery_code_used(user)
                left = mfa.recovery_codes_left(user)
                messages.warning(
                    request,
                    f"You signed in with a recovery code; {left} left. "
                    "Renew them on your two-factor page if you are running out.",
                )
            return redirect(pending["next"])
        if wait:
            error = f"Too many wrong codes: wait {wait} seconds, then try again."
        else:
            request.netboard_wrong_code = True  # type: ignore[attr-defined]
            user_login_failed.send(sender=__name__, credentials=credentials, request=request)
            if AxesProxyHandler.is_locked(request, credentials):
                mfa.pending_clear(request)
                return lockout_response(request)
            error = "That code did not match. Codes change every 30 seconds: try the current one."
        form = CodeForm()
    return render(
        request,
        "registration/mfa_verify.html",
        {"form": form, "error": error, "username": user.get_username()},
        status=400 if error else 200,
    )


def _qr_svg(url: str) -> str:
    """The otpauth:// URL as an inline SVG QR code (made here: no image service, no CDN)."""
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    return svg[svg.index("<svg") :]  # without the XML declaration, to sit inside HTML


def _spaced(key: str) -> str:
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


@login_not_required
@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    """Set up the authenticator app: at the first sign-in of a user who must (a pending
    sign-in), or from the user's own two-factor page."""
    found = mfa.pending_user(request)
    if found is not None:
        user, pending = found
        next_url = pending["next"]
    elif request.user.is_authenticated:
        user, next_url = request.user, resolve_url("mfa-settings")
    else:
        return _start_again(request)
    if mfa.authenticator(user) is not None:
        if found is not None:
            return redirect("mfa-verify")  # enrolled already: the code, not a new enrolment
        # A signed-in session does not swap the authenticator: a stolen session could then
        # take the account's second factor over. A new phone goes through an administrator.
        messages.info(
            request,
            "Two-factor sign-in is already set up. For a new phone, ask an administrator to "
            "reset it; you set it up again at your next sign-in.",
        )
        return redirect("mfa-settings")
    device = mfa.enrolment_device(user)
    form = CodeForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        codes = mfa.mfa_enrol(user=user, device=device, code=form.cleaned_data["code"])
        if codes is not None:
            device.refresh_from_db()
            if found is not None:
                _sign_in(request, user, device, "authenticator app (enrolled)")
            else:
                otp_login(request, device)  # this session has now passed the second factor
            return render(
                request,
                "registration/mfa_recovery_codes.html",
                {"codes": codes, "next": next_url, "first": True},
            )
        error = "That code did not match. Enter the 6 digits the app shows now."
        form = CodeForm()
    key = base64.b32encode(device.bin_key).decode()
    return render(
        request,
        "registration/mfa_enrol.html",
        {
            "form": form,
            "error": error,
            "qr_svg": mark_safe(_qr_svg(device.config_url)),  # noqa: S308 - made by qrcode
            "key": _spaced(key),
            "required": mfa.must_enrol(user),
            "signing_in": found is not None,
        },
        status=400 if error else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    """The user's own two-factor sign-in: state, set up, new recovery codes (with a code)."""
    user = request.user
    device = mfa.authenticator(user)
    form = CodeForm(request.POST or None)
    error = ""
    if request.method == "POST" and device is not None and form.is_valid():
        if mfa.code_verify(user, form.cleaned_data["code"]) is not None:
            codes = mfa.recovery_codes_renew(user=user)
            return render(
                request,
                "registration/mfa_recovery_codes.html",
                {"codes": codes, "next": resolve_url("mfa-settings"), "first": False},
            )
        error = "That code did not match: new recovery codes need a current code from the app."
        form = CodeForm()
    return render(
        request,
        "registration/mfa_settings.html",
        {
            "device": device,
            "codes_left": mfa.recovery_codes_left(user),
            "required": mfa.must_enrol(user),
            "form": form,
            "error": error,
        },
        status=400 if error else 200,
    )


@login_not_required
def admin_login(request: HttpRequest) -> HttpResponse:
    """The Django admin signs in through NETboard's own login (password, lockout and second
    factor alike), not the admin's password-only form."""
    return redirect_to_login(request.GET.get("next") or resolve_url("admin:index"))
