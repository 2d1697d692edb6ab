from django.contrib.admin.apps import AdminConfig as BaseAdminConfig


class AdminConfig(BaseAdminConfig):
    """django.contrib.admin, with the site that lets organisations' members in."""

    default_site = "api.admin_site.AdminSite"
