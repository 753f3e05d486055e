"""Starts build/faultproxy and talks to its control socket."""
import json, os, socket, subprocess


class Proxy:
    def __init__(self, binary, upstream, clients, workdir, seed=1, extra=()):
        self.binary = binary
        self.ctl_path = os.path.join(workdir, "ctl.sock")
        self.log_path = os.path.join(workdir, "faultproxy.log")
        self.err = open(os.path.join(workdir, "faultproxy.err"), "w")
        self.p = subprocess.Popen([binary, "--upstream", upstream, "--clients", str(clients),
                                   "--control", self.ctl_path, "--log", self.log_path,
                                   "--seed", str(seed), *extra],
                                  stdout=subprocess.PIPE, stderr=self.err, text=True)
        line = self.p.stdout.readline().split()
        if line[:2] != ["faultproxy:", "ports"]:
            self.p.kill()
            raise AssertionError("faultproxy did not start: %r (see %s)" % (line, self.err.name))
        self.ports = [int(x) for x in line[2:]]
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(self.ctl_path)
        self.f = self.s.makefile("r")

    def cmd(self, line):
        """One command; its reply line ("ok ..." or "err ...")."""
        self.s.sendall((line + "\n").encode())
        return self.f.readline().strip()

    def cmd_lines(self, line):
        """A command that lists lines before its "ok N"."""
        self.s.sendall((line + "\n").encode())
        out = []
        while True:
            l = self.f.readline().strip()
            if l.startswith("ok") or l.startswith("err") or not l:
                return out
            out.append(l)

    def faults(self):
        """Every fault the proxy logged, as dicts."""
        with open(self.log_path) as f:
            return [json.loads(l) for l in f if '"fault"' in l]

    def stop(self):
        if self.p.poll() is None:
            try:
                self.cmd("quit")
                self.p.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait()
        self.s.close()
        self.err.close()
