// A `systemctl list-units` table whose nginx line the tests change: the baseline's failed service, then fixed.

export const UNITS = (nginx: string) => `  UNIT                     LOAD   ACTIVE SUB     DESCRIPTION
  cron.service             loaded active running Regular background program processing daemon
${nginx}
  ssh.service              loaded active running OpenBSD Secure Shell server

3 loaded units listed.
`;
export const NGINX_FAILED = "● nginx.service            loaded failed failed  A high performance web server";
export const NGINX_RUNNING = "  nginx.service            loaded active running A high performance web server";
/** Prints the table from `file`, and fails (exit 3, on stderr) while nginx has failed. */
export const listUnits = (file: string) =>
  `cat ${file}; grep -q failed ${file} && echo 'nginx.service: failed' >&2 && exit 3; exit 0`;
