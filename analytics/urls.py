from django.urls import re_path

from analytics import ingest_views

urlpatterns = [
    re_path(
        r"^v1/(?P<call_type>identify|track|page|screen|group|alias|batch)/?$",
        ingest_views.ingest_call,
        name="ingest",
    ),
]
