"""`manage.py up` says where the page is once the API answers: the README's first command."""

import threading

from api.ops.management.commands.up import Command


def test_up_announces_the_citizens_page_first(capsys):
    command = Command()
    command.output = threading.Lock()  # what handle() sets up before the processes start
    command.announce(8000)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(
        "| FlexiSpace is up: open http://127.0.0.1:8000/ to find a space and book it."
    )
    assert any(line.endswith("operators http://127.0.0.1:8000/operator/") for line in lines)
    assert any(line.endswith("API docs  http://127.0.0.1:8000/api/v1/docs/") for line in lines)
