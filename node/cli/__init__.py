"""The `yiwang` command line: human tables by default, `--json` for scripts, one clear line
and a non-zero exit code (YiwangError.exit_code) on error."""

import os

# gRPC's C core prints its own log lines (a failed bind) before the CLI's one line says what to
# do; it reads this when grpc is first imported, which the CLI's modules do.
# GRPC_VERBOSITY=debug brings them back for a diagnosis.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")
