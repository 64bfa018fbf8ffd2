from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("analytics.urls")),
]

# Errors answer as JSON on the APIs and as product pages on the dashboard.
handler400 = "analytics.errors.bad_request"
handler403 = "analytics.errors.permission_denied"
handler404 = "analytics.errors.page_not_found"
handler500 = "analytics.errors.server_error"
