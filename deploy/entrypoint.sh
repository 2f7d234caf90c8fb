#!/bin/sh
# The image's entrypoint: refuse to run as root, check the data folder, bring the
# database up to date (under its lock, so web and background may start together),
# then run the schoolgate command given (default: serve --no-workers).
set -eu

if [ "$(id -u)" = "0" ]; then
    echo "schoolgate-entrypoint: refusing to run as root; run as the schoolgate user" \
         "(the image does), or pass --user" >&2
    exit 1
fi

data="${SCHOOLGATE_DATA:-/data}"
if [ ! -d "$data" ] || [ ! -w "$data" ]; then
    echo "schoolgate-entrypoint: $data is not a writable folder for user $(id -u);" \
         "mount a volume there owned by that user" >&2
    exit 1
fi
cd "$data"

if [ "$#" -eq 0 ]; then
    set -- serve --no-workers
fi
case "$1" in
    serve|background|worker|scheduler)
        schoolgate db upgrade ;;
esac
exec schoolgate "$@"
