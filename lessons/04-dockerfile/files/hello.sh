#!/bin/sh
echo "Hello from an image built from a Dockerfile"
