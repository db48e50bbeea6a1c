"""The web console: a playground and admin pages served by the gateway itself (docs/console.md).

Static files live in `static/` inside the package, so an installed gateway serves them without a build
step or anything fetched from the internet; `assets` serves them with strict security headers, `cors`
lets browser pages on other origins call the API when `CORS_ORIGINS` allows it, and `live` streams the
metadata of finished requests to admin pages.
"""
