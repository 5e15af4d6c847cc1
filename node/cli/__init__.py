"""The `yiwang` command line: human tables by default, `--json` for scripts, one clear line
and a non-zero exit code (YiwangError.exit_code) on error."""
