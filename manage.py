#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
    # `up` is the development stack: DEBUG on, and with it the development secrets, unless
    # the environment says otherwise. Its processes inherit the setting.
    if sys.argv[1:2] == ["up"]:
        os.environ.setdefault("DEBUG", "on")
    from api import embedded

    # Before Django reads the settings: a command that may connect gets the embedded servers
    # for the service URLs that are unset.
    if embedded.command_connects(sys.argv):
        embedded.start_unset()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
