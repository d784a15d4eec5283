#!/bin/sh
# A tiny "application": it prints its message and the host name it runs on.
echo "message: $(cat "$(dirname "$0")/message.txt")"
echo "running on: $(hostname)"
