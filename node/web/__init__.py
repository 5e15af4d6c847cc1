"""The pages `yiwang run` serves on its web port (DESIGN.md sections 13 and 14): the statistics
page now, the consoles next. Server-rendered (Starlette and Jinja2), no script, nothing fetched
from the network; log-in with the node's accounts, a signed session cookie, a CSRF token in
every form, and the same services and role table as the CLI and the API."""
