#!/usr/bin/env python3
"""Drives an interactive shell on a pseudo-terminal the way a person at a terminal would.

Reads a JSON script on stdin:
  {"argv": ["bash", "--norc", "-i"], "env": {...}, "steps": [...]}
Each step is one of
  {"expect": "text"}   wait (at most 30 s) until the terminal has shown `text` since the last
                       expect
  {"paste": "text"}    paste `text` as a terminal does: newlines become carriage returns, and
                       the paste is wrapped in bracketed-paste markers while the program
                       reading the terminal has bracketed paste switched on
  {"type": "text"}     type `text` (no markers; "\r" is Enter, "\u0004" is Ctrl-D)
  {"wait": seconds}    let the terminal run for a while
  {"answer": "prompt", "with": "text", "until": "done"}
                       every time the terminal shows `prompt`, type `text`; stop once it shows
                       `done` (at most 120 s)
Prints one JSON object: {"ok": bool, "error": str, "transcript": everything the terminal
showed}. The shell gets a fresh session and controlling terminal, as in a terminal window.
"""

import json
import os
import pty
import select
import sys
import time


def main():
    script = json.load(sys.stdin)
    pid, fd = pty.fork()
    if pid == 0:
        env = dict(script["env"])
        os.execvpe(script["argv"][0], script["argv"], env)
    transcript = bytearray()
    seen_from = 0
    bracketed = False

    def pump(timeout):
        nonlocal bracketed
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return False
        if not chunk:
            return False
        transcript.extend(chunk)
        # Track the last bracketed-paste switch the program sent to the terminal.
        on, off = transcript.rfind(b"\x1b[?2004h"), transcript.rfind(b"\x1b[?2004l")
        bracketed = on > off
        return True

    def finish(ok, error=""):
        deadline = time.time() + 5
        while time.time() < deadline and pump(0.2):
            pass
        try:
            os.kill(pid, 9)
        except OSError:
            pass
        print(json.dumps({"ok": ok, "error": error,
                          "transcript": transcript.decode("utf-8", "replace")}))

    for step in script["steps"]:
        if "expect" in step:
            wanted = step["expect"].encode()
            deadline = time.time() + 30
            while True:
                at = transcript.find(wanted, seen_from)
                if at >= 0:
                    seen_from = at + len(wanted)
                    break
                if time.time() > deadline or not pump(0.1):
                    return finish(False, "did not see %r" % step["expect"])
        elif "paste" in step:
            # A person pastes after the prompt has settled: let the terminal modes the program
            # just switched (bracketed paste) arrive first.
            settle_until = time.time() + 1.0
            before = len(transcript)
            while time.time() < settle_until:
                pump(0.1)
                if len(transcript) == before:
                    break
                before = len(transcript)
            text = step["paste"].replace("\n", "\r").encode()
            if bracketed:
                text = b"\x1b[200~" + text + b"\x1b[201~"
            os.write(fd, text)
            pump(0.05)
        elif "type" in step:
            os.write(fd, step["type"].encode())
            pump(0.05)
        elif "answer" in step:
            prompt, done = step["answer"].encode(), step["until"].encode()
            deadline = time.time() + 120
            while True:
                at_done = transcript.find(done, seen_from)
                at_prompt = transcript.find(prompt, seen_from)
                if at_done >= 0 and (at_prompt < 0 or at_done < at_prompt):
                    seen_from = at_done + len(done)
                    break
                if at_prompt >= 0:
                    seen_from = at_prompt + len(prompt)
                    os.write(fd, step["with"].encode())
                    continue
                if time.time() > deadline or not pump(0.1):
                    return finish(False, "did not see %r" % step["until"])
        elif "wait" in step:
            deadline = time.time() + step["wait"]
            while time.time() < deadline and pump(0.05):
                pass
    # Let the shell exit (and write its history).
    deadline = time.time() + 10
    while time.time() < deadline:
        if not pump(0.1):
            break
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
    finish(True)


if __name__ == "__main__":
    main()
