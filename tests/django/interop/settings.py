"""Settings of the interop project: django-maintenancemode-2 on the database in DJANGO_DATABASE_URL.

`DJANGO_DATABASE_URL` is `sqlite:///absolute/path.db` or `postgres://user@host:port/name`.
"""
import os
from urllib.parse import unquote, urlsplit

SECRET_KEY = "interop-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
SITE_ID = int(os.environ.get("DJANGO_SITE_ID", "1"))
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sites",
    "maintenancemode",
]


def _database(url):
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": unquote(parts.path)}
    if parts.scheme in ("postgres", "postgresql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
        }
    raise SystemExit(f"DJANGO_DATABASE_URL={url!r}: expected sqlite:///path or postgres://...")


DATABASES = {"default": _database(os.environ["DJANGO_DATABASE_URL"])}
