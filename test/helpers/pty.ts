/**
 * A pty driver in python3 (its pty module): runs ARGV on a fresh pty of rows × cols, then runs the
 * DRIVE environment variable as python with `expect(s, t=15)` (wait for s in the output) and `send(s)`,
 * drains the pty, and prints "EXIT <code>" of ARGV. With printOutput the whole output read is printed
 * before that line.
 */
export function ptyDriver(o: { rows: number; cols: number; printOutput?: boolean }): string {
  return `
import os, pty, sys, time, select, fcntl, termios, struct
argv = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
buf = b""
def expect(s, t=15):
    global buf
    end = time.time() + t
    while s.encode() not in buf:
        r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
        if not r: sys.stderr.write("timeout waiting for %r, got %r\\n" % (s, buf)); sys.exit(90)
        try: buf += os.read(fd, 4096)
        except OSError: break
def send(s): os.write(fd, s.encode())
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ${o.rows}, ${o.cols}, 0, 0))
exec(os.environ["DRIVE"])
while True:
    try:
        d = os.read(fd, 4096)
        if not d: break
        buf += d
    except OSError: break
_, status = os.waitpid(pid, 0)
${o.printOutput ? 'sys.stdout.write(buf.decode("utf-8", "replace"))\n' : ""}print("EXIT", os.waitstatus_to_exitcode(status))
`;
}
