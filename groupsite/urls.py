from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico wherever a page came from (an API's JSON, a PDF).
    path("favicon.ico", RedirectView.as_view(url=static("groupsite/favicon.svg")), name="favicon"),
    path("", include("analytics.urls")),
]

# Errors answer as JSON on the APIs and as product pages on the dashboard.
handler400 = "analytics.errors.bad_request"
handler403 = "analytics.errors.permission_denied"
handler404 = "analytics.errors.page_not_found"
handler500 = "analytics.errors.server_error"
