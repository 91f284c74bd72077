#!/bin/sh
# A tiny AGI app (the lab's "bot"): reads the AGI environment, answers, plays a beep,
# records its verdict in a channel variable and hangs up — the PBX handles the call alone.
while IFS= read -r line && [ -n "$line" ]; do :; done
cmd() { printf '%s\n' "$1"; IFS= read -r reply; }
cmd "ANSWER"
cmd "SET VARIABLE LAB_AGI handled"
cmd "STREAM FILE beep \"\""
cmd "WAIT FOR DIGIT 2000"
cmd "HANGUP"
