FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY netboard ./netboard
COPY apps ./apps
RUN pip install --no-cache-dir .
COPY . .
RUN DJANGO_DEBUG=0 DJANGO_SECRET_KEY=build-only-not-secret-build-only-not-secret-build-only \
    DJANGO_ALLOWED_HOSTS=build python manage.py collectstatic --noinput
RUN useradd --create-home netboard && chown -R netboard /app
USER netboard
EXPOSE 8000
CMD ["gunicorn", "netboard.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
