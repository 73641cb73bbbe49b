// A minimal SMTP receiver on 127.0.0.1 for tests of email delivery (RFC 5321 as Go's net/smtp
// client speaks it: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT). It offers no STARTTLS, so a client
// that requires TLS must refuse it, and records each mail with the credentials it came with.
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/** SmtpMail is one mail as the server received it. */
export interface SmtpMail {
  /** AUTH PLAIN's decoded "authzid\0user\0password", or undefined without AUTH */
  auth?: string;
  from: string;
  to: string[];
  /** the message (headers and body), dot-unstuffed */
  data: string;
}

/** SmtpSink is the running server: its host:port, the mails and every session's commands. */
export interface SmtpSink {
  address: string;
  mails: SmtpMail[];
  /** each connection's command lines (AUTH arguments redacted), for failure messages */
  sessions: string[][];
  close(): Promise<void>;
}

function session(socket: Socket, mails: SmtpMail[], log: string[]): void {
  let buffer = '';
  let inData = false;
  let mail: Partial<SmtpMail> & { to: string[] } = { to: [] };
  let auth: string | undefined;
  const reply = (line: string) => socket.write(`${line}\r\n`);
  const command = (line: string): void => {
    const verb = line.split(' ')[0]!.toUpperCase();
    log.push(verb === 'AUTH' ? 'AUTH …' : line);
    if (verb === 'EHLO' || verb === 'HELO') return void reply('250-gitcell-test\r\n250-8BITMIME\r\n250 AUTH PLAIN');
    if (verb === 'AUTH') {
      const [, mech, arg] = line.split(' ');
      if (mech?.toUpperCase() !== 'PLAIN' || !arg) return void reply('504 5.5.4 only AUTH PLAIN with an initial response');
      auth = Buffer.from(arg, 'base64').toString('utf8');
      return void reply('235 2.7.0 Authentication successful');
    }
    if (verb === 'MAIL') {
      mail = { to: [], from: /<([^>]*)>/.exec(line)?.[1] ?? '', ...(auth !== undefined ? { auth } : {}) };
      return void reply('250 2.1.0 OK');
    }
    if (verb === 'RCPT') {
      mail.to.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
      return void reply('250 2.1.5 OK');
    }
    if (verb === 'DATA') {
      inData = true;
      return void reply('354 end with <CRLF>.<CRLF>');
    }
    if (verb === 'QUIT') {
      reply('221 2.0.0 bye');
      return void socket.end();
    }
    reply(verb === 'RSET' || verb === 'NOOP' ? '250 OK' : '502 5.5.2 not implemented');
  };
  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    for (;;) {
      if (inData) {
        const end = buffer.indexOf('\r\n.\r\n');
        if (end < 0) return;
        const data = buffer.slice(0, end).replace(/^\.\./gm, '.');
        buffer = buffer.slice(end + 5);
        inData = false;
        mails.push({ ...mail, from: mail.from ?? '', data });
        reply('250 2.0.0 queued');
        continue;
      }
      const nl = buffer.indexOf('\r\n');
      if (nl < 0) return;
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 2);
      command(line);
    }
  });
  socket.on('error', () => undefined);
  reply('220 gitcell-test ESMTP');
}

/** startSmtpSink listens on a free 127.0.0.1 port; close() ends every session. */
export async function startSmtpSink(): Promise<SmtpSink> {
  const mails: SmtpMail[] = [];
  const sessions: string[][] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const log: string[] = [];
    sessions.push(log);
    session(socket, mails, log);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    mails,
    sessions,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}
