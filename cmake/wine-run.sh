#!/usr/bin/env bash
# Runs a Windows program under wine for ctest (CMAKE_CROSSCOMPILING_EMULATOR), in the
# build's own prefix, headless, without the Mono/Gecko prompts.
export WINEPREFIX="${WINEPREFIX:-${CG_WINEPREFIX:-$HOME/.wine-chronograph}}"
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="
exec wine "$@"
