from django.core.management.base import BaseCommand, CommandError

from api.accounts.models import User
from api.accounts.operators import make_operator


class Command(BaseCommand):
    help = "Create an operator (staff who manage venues, spaces and locks), or promote a user."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--name", default="")

    def handle(self, *args, email, password, name, **options):
        if not password:
            raise CommandError("--password must not be empty.")
        user = User.objects.filter(email=email.lower()).first()
        if user is None:
            make_operator(User.objects.create_user(email, password, name=name))
            self.stdout.write(f"Created operator {email.lower()}.")
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
            make_operator(user)
            self.stdout.write(f"{user.email} is now an operator; password updated.")
