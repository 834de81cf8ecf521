#!/bin/sh
# OpenSSH askpass helper for the tests: prints the password it was given.
printf "%s\n" "$ENERTEG_TEST_PASSWORD"
