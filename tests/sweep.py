#!/usr/bin/env python3
"""sweep.py SRC OUTDIR [--ops a,b,...] [--max N] [--seed S] [--lines A-B]

Write every mechanical one-line (or two-line) mutant of SRC, a lesson's
reference solution, as OUTDIR/sw_NNNN.patch in the course's mutant format,
and OUTDIR/list.tsv: id, line, operator, the line before, after.  make
sweep grades them (tests/sweep.sh); a mutant that escapes is a test to
write, or a mutant that no caller can tell apart from the solution.

First-order operators (a token or a statement):
  del     a statement replaced by ';'
  rel     < <= > >= moved by one
  neg     == and !=, && and || swapped
  const   an integer constant +1 or -1
  flag    one flag dropped from A | B
  cond    an if or while condition negated
  ret     a return value's sign flipped, or 0 / -1 returned instead
Second-order operators (order, look-alikes, the wrong variable):
  swap    two adjacent statements swapped
  arith   + and -, * and /, += and -= swapped; a '+ 1' or '- 1' dropped
  api     a look-alike constant or call (CLOCK_MONOTONIC for REALTIME,
          WNOHANG for 0, SIG_BLOCK for SIG_SETMASK, _exit for exit,
          FD_CLOEXEC for O_CLOEXEC, [0] for [1], ...)
  clause  one operand of an && or || chain dropped from a condition
  unary   a unary minus dropped (r = -errno for r = errno)
  var     an int-like local or parameter read in place of another of the
          same type in the same function
  size    a buffer one byte short: an array declared [N - 1], a malloc,
          calloc or realloc of one less or without its '* sizeof', a
          memcpy, memmove, memset or snprintf of one byte more
"""
import difflib
import os
import random
import re
import sys

FIRST = ['del', 'rel', 'neg', 'const', 'flag', 'cond', 'ret']
SECOND = ['swap', 'arith', 'api', 'clause', 'unary', 'var', 'size']

DECL = re.compile(
    r'^\s*(const\s+|static\s+|volatile\s+|struct\s+\w+\s*\**\s*\w+\s*[=;\[]|'
    r'union\s|enum\s|unsigned\s|signed\s|(int|char|long|short|size_t|ssize_t|'
    r'pid_t|off_t|uint\d+_t|int\d+_t|bool|double|float|socklen_t|sigset_t|'
    r'mode_t|uid_t|time_t|nfds_t|void)\b[\s\*]*\w)')
INTT = (r'(?:unsigned\s+|signed\s+|const\s+)*(?:int|long|long\s+long|short|'
        r'size_t|ssize_t|pid_t|off_t|uint\d+_t|int\d+_t|socklen_t|nfds_t|'
        r'time_t|uid_t|mode_t)')
API = [
    (r'\bCLOCK_MONOTONIC\b', 'CLOCK_REALTIME'), (r'\bCLOCK_REALTIME\b', 'CLOCK_MONOTONIC'),
    (r'\bWNOHANG\b', '0'), (r'\bSIG_BLOCK\b', 'SIG_SETMASK'),
    (r'\bSIG_SETMASK\b', 'SIG_BLOCK'), (r'\bSIG_UNBLOCK\b', 'SIG_SETMASK'),
    (r'\b_exit\s*\(', 'exit('), (r'\bEINTR\b', 'EAGAIN'), (r'\bEAGAIN\b', 'EINTR'),
    (r'\bFD_CLOEXEC\b', 'O_CLOEXEC'), (r'\bPOLLIN\b', 'POLLOUT'), (r'\bPOLLOUT\b', 'POLLIN'),
    (r'\bPOLLHUP\b', 'POLLERR'), (r'\bMAP_SHARED\b', 'MAP_PRIVATE'),
    (r'\bO_RDONLY\b', 'O_RDWR'), (r'\bO_WRONLY\b', 'O_RDWR'), (r'\bSIGKILL\b', 'SIGTERM'),
    (r'\bSIGTERM\b', 'SIGKILL'), (r'\bSTDOUT_FILENO\b', 'STDERR_FILENO'),
    (r'\bSTDERR_FILENO\b', 'STDOUT_FILENO'), (r'\bSOCK_STREAM\b', 'SOCK_SEQPACKET'),
    (r'\bSOCK_SEQPACKET\b', 'SOCK_STREAM'), (r'\bEXIT_FAILURE\b', 'EXIT_SUCCESS'),
    (r'\bsa_flags\s*=\s*0\b', 'sa_flags = SA_RESTART'), (r'\bSA_RESTART\b', '0'),
    (r'\bF_SETFD\b', 'F_SETFL'), (r'\bF_GETFD\b', 'F_GETFL'), (r'\bSEEK_SET\b', 'SEEK_END'),
    (r'\[0\]', '[1]'), (r'\[1\]', '[0]'), (r'\bstrlen\(([^()]*)\)', r'(strlen(\1) + 1)'),
    (r'\bsizeof\s*\((\w+)\)', r'sizeof(&\1)'), (r'\bfree\(', 'free(0 && '),
    (r'\bEEXIST\b', 'EBUSY'), (r'\bENOENT\b', 'ESRCH'), (r'\bETIMEDOUT\b', 'EAGAIN'),
    (r'\bpthread_mutex_unlock\(', 'pthread_mutex_trylock('), (r'\bwaitpid\(-1\b', 'waitpid(0'),
    (r'\bmemcpy\(', 'memmove('),
    (r'\bPTHREAD_PROCESS_SHARED\b', 'PTHREAD_PROCESS_PRIVATE')]


def mask(line, state):
    """The line with comments and string and char literals blanked."""
    res, i, n = [], 0, len(line)
    while i < n:
        if state == 'c':
            j = line.find('*/', i)
            if j < 0:
                res.append(' ' * (n - i))
                i = n
            else:
                res.append(' ' * (j + 2 - i))
                i, state = j + 2, ''
            continue
        ch = line[i]
        if line.startswith('//', i):
            res.append(' ' * (n - i))
            break
        if line.startswith('/*', i):
            state = 'c'
            continue
        if ch in '"\'':
            j = i + 1
            while j < n and line[j] != ch:
                j += 2 if line[j] == '\\' else 1
            res.append(ch + ' ' * (min(j, n) - i - 1) + (ch if j < n else ''))
            i = j + 1
            continue
        res.append(ch)
        i += 1
    return ''.join(res), state


class Sweep:
    def __init__(self, lines, ops, rng):
        self.lines, self.ops, self.rng, self.cands = lines, ops, rng, []
        self.masked, state = [], ''
        for line in lines:
            m, state = mask(line, state)
            self.masked.append(m)

    def add(self, ln, op, new, ln2=None, new2=None):
        if self.rng and not self.rng[0] <= ln <= self.rng[1]:
            return
        if op not in self.ops:
            return
        if new != self.lines[ln - 1] or (ln2 and new2 != self.lines[ln2 - 1]):
            self.cands.append((ln, op, new, ln2, new2))

    def simple_stmt(self, i):
        s = self.masked[i].strip()
        if not s.endswith(';') or s.count('(') != s.count(')') or s == ';':
            return False
        if s.startswith(('return', '}', 'case', 'default', 'else', 'for', 'while', 'if',
                         'do', 'break', 'continue', 'goto', 'typedef', '#')):
            return False
        if DECL.match(self.masked[i]) and '=' not in s:
            return False
        p = self.masked[i - 1].strip() if i > 0 else ''
        return not p or p.endswith((';', '{', '}', ':')) or p.startswith('#')

    def first_order(self, ln, line, m, s):
        add = self.add
        if (s.endswith(';') and s.count('(') == s.count(')') and not DECL.match(m)
                and not s.startswith(('return', '}', 'case', 'default', 'else', 'for',
                                      'while', 'if', 'do', 'typedef'))):
            add(ln, 'del', line[:len(line) - len(line.lstrip())] + ';')
        for pat, rep, op in [(r'(?<![<>=!])<(?![<=])', '<=', 'rel'), (r'<=', '<', 'rel'),
                             (r'(?<![-<>=])>(?![>=])', '>=', 'rel'), (r'>=', '>', 'rel'),
                             (r'==', '!=', 'neg'), (r'!=', '==', 'neg'),
                             (r'&&', '||', 'neg'), (r'\|\|', '&&', 'neg')]:
            for mm in re.finditer(pat, m):
                if op == 'rel' and DECL.match(m) and '(' not in s:
                    continue
                if '#include' in s or '->' in m[mm.start() - 1:mm.end() + 1]:
                    continue
                add(ln, op, line[:mm.start()] + rep + line[mm.end():])
        for mm in re.finditer(r'(?<![\w.])(\d+)(?![\w.])', m):
            if DECL.match(m) and ('[' in m or '{' in m):
                continue  # array sizes and initialisers: mostly equivalent
            v = int(mm.group(1))
            for nv in ([v + 1, v - 1] if v > 0 else [1]):
                add(ln, 'const', line[:mm.start()] + str(nv) + line[mm.end():])
        for mm in re.finditer(r'\b([A-Z][A-Z0-9_]{2,})\s*\|\s*([A-Z][A-Z0-9_]{2,})\b', m):
            add(ln, 'flag', line[:mm.start()] + mm.group(1) + line[mm.end():])
            add(ln, 'flag', line[:mm.start()] + mm.group(2) + line[mm.end():])
        mm = re.match(r'^(\s*(?:if|while)\s*\()(.*)(\)\s*\{?\s*)$', m)
        if mm and m.count('(') == m.count(')'):
            add(ln, 'cond', line[:mm.end(1)] + '!(' + line[mm.end(1):mm.start(3)] + ')'
                + line[mm.start(3):])
        mm = re.match(r'^(\s*return\s+)(-?)(\w+)\s*;\s*$', m)
        if mm:
            v = mm.group(3)
            if mm.group(2):
                add(ln, 'ret', line[:mm.start(2)] + line[mm.end(2):])
            elif v not in ('0', 'NULL'):
                add(ln, 'ret', line[:mm.start(3)] + '0' + line[mm.end(3):])
            if v == '0':
                add(ln, 'ret', line[:mm.start(3)] + '-1' + line[mm.end(3):])

    def second_order(self, i, ln, line, m, s):
        add, lines, masked = self.add, self.lines, self.masked
        if i + 1 < len(lines) and self.simple_stmt(i) and self.simple_stmt(i + 1):
            nxt = lines[i + 1]
            ind1 = line[:len(line) - len(line.lstrip())]
            ind2 = nxt[:len(nxt) - len(nxt.lstrip())]
            both_decl = DECL.match(m) and DECL.match(masked[i + 1])
            if ind1 == ind2 and ind1 and not both_decl:
                add(ln, 'swap', nxt, ln + 1, line)
        for mm in re.finditer(r'(?<=[\w\)\]])\s([-+*/])\s(?=[\w\(])', m):
            if mm.group(1) == '*' and DECL.match(m):
                continue
            r = {'+': '-', '-': '+', '*': '/', '/': '*'}[mm.group(1)]
            add(ln, 'arith', line[:mm.start(1)] + r + line[mm.end(1):])
        for mm in re.finditer(r'\s[-+]\s1(?![\w.])', m):
            add(ln, 'arith', line[:mm.start()] + line[mm.end():])
        for mm in re.finditer(r'([-+])=', m):
            if m[mm.start() - 1:mm.start()] in '<>=!':
                continue
            add(ln, 'arith', line[:mm.start(1)] + ('-' if mm.group(1) == '+' else '+')
                + line[mm.end(1):])
        for pat, rep in API:
            for mm in re.finditer(pat, m):
                add(ln, 'api', line[:mm.start()] + re.sub(pat, rep, line[mm.start():mm.end()])
                    + line[mm.end():])
        mm = re.match(r'^(\s*(?:\}\s*else\s+)?(?:if|while)\s*\()(.*)(\)\s*\{?\s*)$', m)
        if mm and m.count('(') == m.count(')'):
            inner, off, d, cuts = mm.group(2), mm.start(2), 0, []
            for k, ch in enumerate(inner):
                if ch == '(':
                    d += 1
                elif ch == ')':
                    d -= 1
                elif d == 0 and inner[k:k + 2] in ('&&', '||'):
                    cuts.append(k)
            ops = {inner[k:k + 2] for k in cuts}
            if len(ops) == 1:  # (a mixed chain: which operand is one, unclear)
                joint = ' %s ' % ops.pop()
                parts, prev = [], 0
                for k in cuts:
                    parts.append((prev, k))
                    prev = k + 2
                parts.append((prev, len(inner)))
                for part in parts:
                    keep = [line[off + x:off + y].strip() for x, y in parts if (x, y) != part]
                    add(ln, 'clause', line[:off] + joint.join(keep) + line[off + len(inner):])
        if DECL.match(m):
            for mm in re.finditer(r'\[([^\[\]]+)\](?=\s*(?:[;=,)\[]|$))', m):
                add(ln, 'size', line[:mm.start(1)] + '%s - 1' % line[mm.start(1):mm.end(1)].strip()
                    + line[mm.end(1):])
        for mm in re.finditer(r'\b(malloc|calloc|realloc|memcpy|memmove|memset|snprintf)\(', m):
            args, d, k, start = [], 0, mm.end(), mm.end()
            while k < len(m):
                ch = m[k]
                if ch in '([':
                    d += 1
                elif ch in ')]':
                    if d == 0:
                        args.append((start, k))
                        break
                    d -= 1
                elif ch == ',' and d == 0:
                    args.append((start, k))
                    start = k + 1
                k += 1
            f = mm.group(1)
            pick = {'malloc': 0, 'calloc': 0, 'realloc': 1, 'memcpy': 2, 'memmove': 2,
                    'memset': 2, 'snprintf': 1}[f]
            if len(args) <= pick or k >= len(m):
                continue
            a, b = args[pick]
            arg = line[a:b].strip()
            lead = line[a:b][:len(line[a:b]) - len(line[a:b].lstrip())]
            more = f in ('memcpy', 'memmove', 'memset', 'snprintf')
            add(ln, 'size', line[:a] + lead + '%s %s 1' % (arg, '+' if more else '-') + line[b:])
            if not more:
                cut = re.sub(r'\s*\*\s*sizeof\s*(\(\s*[\w\s\*]+\)|\*?\s*[\w>.-]+)', '', arg)
                if cut != arg and cut:
                    add(ln, 'size', line[:a] + lead + cut + line[b:])
        if not re.match(r'^\s*return\s+-\w+\s*;\s*$', m):  # (ret's already)
            for mm in re.finditer(r'(?:(?<=[=(,])|(?<=return))\s*(-)(?=[a-zA-Z_(])', m):
                add(ln, 'unary', line[:mm.start(1)] + line[mm.end(1):])

    def functions(self):
        """(first, last) line index of each top-level brace block."""
        out, depth, start = [], 0, None
        for i, m in enumerate(self.masked):
            for ch in m:
                if ch == '{':
                    if depth == 0:
                        start = i
                    depth += 1
                elif ch == '}':
                    depth -= 1
                    if depth == 0 and start is not None:
                        out.append((start, i))
                        start = None
        return out

    def wrong_variable(self):
        masked, lines = self.masked, self.lines
        for a, b in self.functions():
            text = ' '.join(masked[max(0, a - 3):b])
            names = {}
            for mm in re.finditer(r'(?:^|[(,;{]\s*)(' + INTT + r')\s+(\w+)\s*(?=[,)=;\[])', text):
                t = re.sub(r'\s+', ' ', mm.group(1).replace('const ', ''))
                if mm.group(2) not in ('int', 'long'):
                    names.setdefault(t, set()).add(mm.group(2))
            for vs in names.values():
                if len(vs) < 2:
                    continue
                for i in range(a + 1, b):
                    m = masked[i]
                    if DECL.match(m):
                        continue
                    for mm in re.finditer(r'(?<![\w.>])(\w+)(?!\w)', m):
                        v = mm.group(1)
                        if v not in vs or re.match(r'\s*=[^=]', m[mm.end():]):
                            continue  # (a read only, not a store)
                        for w in sorted(vs - {v}):
                            self.add(i + 1, 'var', lines[i][:mm.start()] + w + lines[i][mm.end():])

    def run(self):
        for i, m in enumerate(self.masked):
            s = m.strip()
            if not s or s.startswith('#'):
                continue
            self.first_order(i + 1, self.lines[i], m, s)
            self.second_order(i, i + 1, self.lines[i], m, s)
        self.wrong_variable()
        return self.cands


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    src, out = argv[0], argv[1]

    def opt(name, default):
        return argv[argv.index(name) + 1] if name in argv else default
    ops = set(opt('--ops', ','.join(FIRST + SECOND)).split(','))
    unknown = ops - set(FIRST + SECOND)
    if unknown:
        sys.exit('sweep.py: no operator %s (see --help)' % ', '.join(sorted(unknown)))
    rng = tuple(int(x) for x in opt('--lines', '0-0').split('-'))
    name = os.path.basename(src)
    lines = open(src, encoding='utf-8').read().split('\n')
    if lines and lines[-1] == '':
        lines.pop()  # (the newline that ends the last line)
    cands = Sweep(lines, ops, rng if rng != (0, 0) else None).run()
    random.Random(int(opt('--seed', '1'))).shuffle(cands)
    cands = sorted(cands[:int(opt('--max', '100000'))], key=lambda c: (c[0], c[1]))
    os.makedirs(out, exist_ok=True)
    seen, k = set(), 0
    with open(os.path.join(out, 'list.tsv'), 'w', encoding='utf-8') as lst:
        for ln, op, new, ln2, new2 in cands:
            mod = list(lines)
            mod[ln - 1] = new
            if ln2:
                mod[ln2 - 1] = new2
            key = (ln, tuple(mod[max(0, ln - 2):ln + 2]))
            if key in seen:
                continue  # (two operators, one mutant)
            seen.add(key)
            k += 1
            d = ''.join(difflib.unified_diff([x + '\n' for x in lines],
                                             [x + '\n' for x in mod], n=3))
            d = re.sub(r'^--- .*\n\+\+\+ .*\n', '--- %s\n+++ %s\n' % (name, name), d)
            desc = new.strip() + ((' / ' + new2.strip()) if ln2 else '')
            with open(os.path.join(out, 'sw_%04d.patch' % k), 'w', encoding='utf-8') as f:
                f.write('Mutant: line %d, %s: %s\nExpect: \n\n%s' % (ln, op, desc, d))
            lst.write('sw_%04d\t%d\t%s\t%s\t%s\n' % (k, ln, op, lines[ln - 1].strip(), desc))
    print('sweep: %d mutants of %s in %s' % (k, src, out), file=sys.stderr)


if __name__ == '__main__':
    main(sys.argv[1:])
