# `uv` inside a member's dev shell (flake.nix substitutes @realUv@ and @member@).
# `uv sync` and `uv run` act on the member this shell is for: the wrapper adds `--package @member@`, so
# `nix develop .#train` then `uv sync` installs the train member into its own venv (UV_PROJECT_ENVIRONMENT).
# Anything that names its target itself is passed through untouched: --package, --all-packages, --script,
# --no-project, --isolated, --project, --directory, or the variable GPU_WORKSPACE_UV_PLAIN=1.
# Known limit: for `uv run`, a `--package` among your program's own arguments also counts; write
# `uv run --package @member@ ...` yourself in that case.
real=@realUv@
member=@member@

if [ -n "${GPU_WORKSPACE_UV_PLAIN-}" ]; then
  exec "$real" "$@"
fi

# global options before the subcommand (uv -v sync, uv --offline run ...)
pre=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --directory | --directory=* | --project | --project=*) exec "$real" "${pre[@]}" "$@" ;;
    --cache-dir | --color | --config-file | --allow-insecure-host | --python | -p)
      [ "$#" -ge 2 ] || break
      pre+=("$1" "$2")
      shift 2
      ;;
    -*)
      pre+=("$1")
      shift
      ;;
    *) break ;;
  esac
done

if [ "$#" -gt 0 ] && { [ "$1" = sync ] || [ "$1" = run ]; }; then
  sub=$1
  shift
  for a in "$@"; do
    case "$a" in
      --) break ;;
      --package | --package=* | --all-packages | --script | --script=* | --no-project | --isolated | --project | \
        --project=* | --directory | --directory=*)
        exec "$real" "${pre[@]}" "$sub" "$@"
        ;;
    esac
  done
  exec "$real" "${pre[@]}" "$sub" --package "$member" "$@"
fi
exec "$real" "${pre[@]}" "$@"
