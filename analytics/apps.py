from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"

    def ready(self):
        from django.core.signals import request_started
        from django.tasks.signals import task_started

        from analytics import lookups  # noqa: F401  (registers field__any)
        from analytics.event_store import forget_stored_queues

        request_started.connect(forget_stored_queues, dispatch_uid="forget_stored_queues")
        task_started.connect(forget_stored_queues, dispatch_uid="forget_stored_queues")
