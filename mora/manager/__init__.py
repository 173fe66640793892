"""`mora manager`: the web service that receives deployments, walks the setup wizard and applies.

Layering: this package sits over `mora.deploy` (change sets, the apply engine, targets), the plan
and the secret store; it never reads syntax itself (pushed sources are compiled through
`mora.api`). `db` keeps deployments, runs and run logs in SQLite (never a secret value);
`core` is the service logic the REST API and the pages share; `auth` the credentials, sessions
and CSRF tokens; `api` the REST routes and their OpenAPI document; `web` the server-rendered pages;
`app` puts them together as one ASGI application.
"""
