#!/usr/bin/env python3
"""Regenerate src/runtime/syscalls.ts from the kernel uapi headers (Debian's linux-libc-dev)."""
import re
import sys

x86 = {}
for line in open('/usr/include/x86_64-linux-gnu/asm/unistd_64.h'):
    m = re.match(r'#define __NR_(\w+)\s+(\d+)', line)
    if m:
        x86[m.group(1)] = int(m.group(2))
text = open('/usr/include/asm-generic/unistd.h').read()
gen = {m.group(1): int(m.group(2)) for m in re.finditer(r'#define __NR_(\w+)\s+(\d+)', text)}
# 64-bit: __NR_x is __NR3264_x (fstatat is newfstatat there)
for m in re.finditer(r'#define __NR3264_(\w+)\s+(\d+)', text):
    gen[{'fstatat': 'newfstatat'}.get(m.group(1), m.group(1))] = int(m.group(2))
for bad in ['syscalls', 'arch_specific_syscall']:
    gen.pop(bad, None)


def fmt(d):
    lines, cur = [], ''
    for k, v in sorted(d.items(), key=lambda kv: kv[1]):
        s = f'{k}:{v},'
        if len(cur) + len(s) + 1 > 108:
            lines.append(cur)
            cur = ''
        cur += (' ' if cur else '') + s
    if cur:
        lines.append(cur)
    return '\n'.join('  ' + l for l in lines)


sys.stdout.write(f'''/**
 * Syscall numbers by name, for the seccomp compiler (seccomp.ts). Generated from the kernel's uapi
 * headers (x86_64: asm/unistd_64.h; aarch64: asm-generic/unistd.h with the 64-bit __NR3264_* names)
 * by scripts/gen-syscalls.py; regenerate, do not edit by hand.
 */
export const SYSCALLS_X86_64: Record<string, number> = {{
{fmt(x86)}
}};

export const SYSCALLS_AARCH64: Record<string, number> = {{
{fmt(gen)}
}};
''')
