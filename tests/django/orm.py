#!/usr/bin/env python3
"""Changes django-maintenancemode-2's state through the Django ORM, as the Django admin does.

The interop tests run it with the venv's Python and DJANGO_DATABASE_URL set:

    orm.py migrate                          # the package's own migrations (and Django's)
    orm.py site ID DOMAIN NAME              # add or update a django.contrib.sites Site
    orm.py flag SITE_ID on|off              # the admin's "In Maintenance Mode" checkbox
    orm.py ignore SITE_ID PATTERN DESCRIPTION
    orm.py unignore SITE_ID PATTERN
    orm.py populate                         # a Maintenance row for every site, as the admin does
    orm.py dump                             # every site, flag and pattern, as JSON

Each change prints `committed-at <Unix time>` on stderr once its transaction has committed.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "interop.settings")

import django  # noqa: E402

django.setup()

from django.contrib.sites.models import Site  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from maintenancemode.models import IgnoredURL, Maintenance, populate  # noqa: E402


def maintenance_of(site_id):
    return Maintenance.objects.get_or_create(site=Site.objects.get(pk=int(site_id)))[0]


def main(argv):
    if not argv:
        raise SystemExit(__doc__)
    command, args = argv[0], argv[1:]
    if command == "migrate":
        # Outside a transaction: SQLite's schema editor needs foreign key checks off.
        call_command("migrate", verbosity=0)
        return
    with transaction.atomic():
        if command == "site":
            site_id, domain, name = args
            Site.objects.update_or_create(pk=int(site_id), defaults={"domain": domain, "name": name})
        elif command == "flag":
            site_id, state = args
            if state not in ("on", "off"):
                raise SystemExit(f"flag: expected on or off, not {state!r}")
            maintenance = maintenance_of(site_id)
            maintenance.is_being_performed = state == "on"
            maintenance.save()
        elif command == "ignore":
            site_id, pattern, description = args
            IgnoredURL.objects.create(
                maintenance=maintenance_of(site_id), pattern=pattern, description=description
            )
        elif command == "unignore":
            site_id, pattern = args
            IgnoredURL.objects.filter(maintenance=maintenance_of(site_id), pattern=pattern).delete()
        elif command == "populate":
            populate()
        elif command == "dump":
            sites = []
            for site in Site.objects.order_by("pk"):
                maintenance = Maintenance.objects.filter(site=site).first()
                sites.append(
                    {
                        "id": site.pk,
                        "domain": site.domain,
                        "is_being_performed": bool(maintenance and maintenance.is_being_performed),
                        "ignored": [
                            [u.pattern, u.description]
                            for u in IgnoredURL.objects.filter(maintenance=maintenance).order_by("pk")
                        ]
                        if maintenance
                        else [],
                    }
                )
            print(json.dumps(sites))
        else:
            raise SystemExit(f"unknown command {command!r}\n{__doc__}")
    # After the commit: when the change became visible to other connections.
    print(f"committed-at {time.time():.6f}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
