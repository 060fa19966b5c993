// Shell of the console: decides where a visitor belongs (setup, login, or in), and routes.

import * as routes from "@caisey/core/routes";
import type { JSX } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, abilities, api, errorMessage, type Me, setUnauthorizedHandler } from "./api.ts";
import { useWaiting } from "./hooks.ts";
import { AccountPage } from "./pages/account.tsx";
import { ApprovalLinkPage, ApprovalsPage } from "./pages/approvals.tsx";
import { AuditPage } from "./pages/audit.tsx";
import { ClientsPage } from "./pages/clients.tsx";
import { SharePage } from "./pages/evidence.tsx";
import { FiguresPage } from "./pages/figures.tsx";
import { LoginPage } from "./pages/login.tsx";
import { MachinePage } from "./pages/machine.tsx";
import { MachinesPage } from "./pages/machines.tsx";
import { PeoplePage } from "./pages/people.tsx";
import { ReviewsPage } from "./pages/reviews.tsx";
import { SearchPage } from "./pages/search.tsx";
import { SessionPage } from "./pages/session.tsx";
import { SessionsPage } from "./pages/sessions.tsx";
import { SetupPage } from "./pages/setup.tsx";
import { TokensPage } from "./pages/tokens.tsx";
import { linkClick, navigate, usePath } from "./router.ts";

type AuthState =
  | { kind: "loading" }
  | { kind: "signed-in"; me: Me }
  | { kind: "signed-out"; setupRequired: boolean }
  | { kind: "error"; message: string };

const PUBLIC_PATHS = new Set(["/login", "/setup"]);
const TITLES: Record<string, string> = {
  "/machines": "Machines",
  "/sessions": "Sessions",
  "/approvals": "Approvals",
  "/search": "Search",
  "/people": "People",
  "/clients": "Clients",
  "/tokens": "API tokens",
  "/audit": "Audit log",
  "/reviews": "Reviews",
  "/figures": "Figures",
  "/account": "Account",
};

/** Where someone lands after signing in: a client's contact starts with what waits for their approval. */
function home(me: Me): string {
  return me.user.role === "contact" ? "/approvals" : "/machines";
}

/** One-time approval links work without signing in: they never go through the console's sign-in. */
const APPROVE_LINK = /^\/approve\/([^/]+)$/;
/** Share links open a read-only session record for someone with no account. */
const SHARE_LINK = /^\/share\/([^/]+)$/;

export function App() {
  const path = usePath();
  const link = APPROVE_LINK.exec(path);
  if (link?.[1]) return <ApprovalLinkPage key={link[1]} token={decodeURIComponent(link[1])} />;
  const shared = SHARE_LINK.exec(path);
  if (shared?.[1]) return <SharePage key={shared[1]} token={decodeURIComponent(shared[1])} />;
  return <Console path={path} />;
}

function Console({ path }: { path: string }) {
  const [auth, setAuth] = useState<AuthState>({ kind: "loading" });
  /** Set by "Sign out": the next sign-in starts fresh instead of returning to this page. */
  const signedOutOnPurpose = useRef(false);

  const refresh = useCallback(async () => {
    try {
      const me = await api(routes.me);
      setAuth({ kind: "signed-in", me });
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        try {
          const { setupRequired } = await api(routes.setupStatus);
          setAuth({ kind: "signed-out", setupRequired });
        } catch (inner) {
          setAuth({ kind: "error", message: errorMessage(inner) });
        }
      } else {
        setAuth({ kind: "error", message: errorMessage(error) });
      }
    }
  }, []);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  useEffect(() => {
    setUnauthorizedHandler(() => void refresh());
    return () => setUnauthorizedHandler(null);
  }, [refresh]);

  // Keep the address bar where the visitor belongs; a deep link survives the detour through sign-in.
  useEffect(() => {
    if (auth.kind === "signed-out") {
      const target = auth.setupRequired ? "/setup" : "/login";
      if (path === target) {
        signedOutOnPurpose.current = false;
        return;
      }
      const keep = !signedOutOnPurpose.current && !PUBLIC_PATHS.has(path) && path !== "/";
      signedOutOnPurpose.current = false;
      const next = keep ? `?next=${encodeURIComponent(path)}` : "";
      navigate(`${target}${next}`, { replace: true });
    } else if (auth.kind === "signed-in" && (PUBLIC_PATHS.has(path) || path === "/")) {
      const next = new URLSearchParams(location.search).get("next");
      navigate(next?.startsWith("/") && !next.startsWith("//") ? next : home(auth.me), { replace: true });
    }
  }, [auth, path]);

  useEffect(() => {
    const name = auth.kind === "signed-in" ? auth.me.organization.name : "";
    const page = path.startsWith("/sessions/")
      ? "Session"
      : path.startsWith("/machines/")
        ? "Machine"
        : (TITLES[path] ?? "");
    document.title = ["Caisey", page, name].filter(Boolean).join(" · ");
  }, [auth, path]);

  if (auth.kind === "loading") return <div class="splash">Loading…</div>;
  if (auth.kind === "error")
    return (
      <div class="splash">
        <div class="error" data-testid="app-error">
          {auth.message}
        </div>
        <button type="button" onClick={() => void refresh()}>
          Retry
        </button>
      </div>
    );
  if (auth.kind === "signed-out") {
    return auth.setupRequired ? <SetupPage onDone={refresh} /> : <LoginPage onDone={refresh} />;
  }

  const { me } = auth;
  const can = abilities(me.user.role);
  const sessionMatch = /^\/sessions\/([^/]+)$/.exec(path);
  const machineMatch = /^\/machines\/([^/]+)$/.exec(path);
  let page: JSX.Element;
  if (sessionMatch?.[1])
    page = <SessionPage key={sessionMatch[1]} sessionId={decodeURIComponent(sessionMatch[1])} me={me} />;
  else if (machineMatch?.[1])
    page = <MachinePage key={machineMatch[1]} machineId={decodeURIComponent(machineMatch[1])} me={me} />;
  else if (path === "/" || PUBLIC_PATHS.has(path))
    page = me.user.role === "contact" ? <ApprovalsPage me={me} /> : <MachinesPage me={me} />;
  else if (path === "/machines") page = <MachinesPage me={me} />;
  else if (path === "/approvals") page = <ApprovalsPage me={me} />;
  else if (path === "/search") page = <SearchPage me={me} />;
  else if (path === "/sessions") page = <SessionsPage me={me} />;
  else if (path === "/people")
    page = can.managePeople ? <PeoplePage me={me} onSelfChanged={refresh} /> : <NotAllowed />;
  else if (path === "/clients") page = can.staff ? <ClientsPage me={me} /> : <NotAllowed />;
  else if (path === "/tokens") page = can.staff ? <TokensPage me={me} /> : <NotAllowed />;
  else if (path === "/audit") page = can.audit ? <AuditPage me={me} /> : <NotAllowed />;
  else if (path === "/account") page = <AccountPage me={me} />;
  else if (path === "/reviews") page = can.reviewSessions ? <ReviewsPage me={me} /> : <NotAllowed />;
  else if (path === "/figures") page = can.reviewSessions ? <FiguresPage me={me} /> : <NotAllowed />;
  else page = <NotFound path={path} />;

  const signOut = async (everywhere: boolean) => {
    if (
      everywhere &&
      !window.confirm(
        "Sign out everywhere? Every browser signed in as you, and every API token you issued, stops working now.",
      )
    )
      return;
    signedOutOnPurpose.current = true;
    try {
      await api(everywhere ? routes.signOutEverywhere : routes.signOut);
    } catch (error) {
      if (everywhere && !(error instanceof ApiError && error.status === 401)) {
        signedOutOnPurpose.current = false;
        window.alert(`Could not sign out everywhere: ${errorMessage(error)}`);
        return;
      }
      // Otherwise signed out either way from this page's point of view.
    }
    // The signed-out state sends the address bar to /login (without a ?next=, since this was on purpose).
    await refresh();
  };

  return (
    <div class="layout">
      <header class="topbar">
        <a class="brand" href={home(me)} onClick={linkClick}>
          caisey
        </a>
        <Nav me={me} path={path} />
        <div class="spacer" />
        <AccountMenu me={me} onSignOut={signOut} />
      </header>
      <main class="content">{page}</main>
    </div>
  );
}

/** The pages a role may use; beside Approvals and Sessions, what waits for this person (see useWaiting). */
function Nav({ me, path }: { me: Me; path: string }) {
  const can = abilities(me.user.role);
  const waiting = useWaiting(me, path);
  const counted = (label: string, n: number | null) => (n ? `${label} (${n})` : label);
  const nav: { href: string; label: string; id: string; show: boolean; count?: number | null; hint?: string }[] = [
    {
      href: "/approvals",
      label: counted("Approvals", waiting.approvals),
      id: "approvals",
      show: !can.staff,
      count: waiting.approvals,
      hint: "Commands waiting for your approval",
    },
    { href: "/machines", label: "Machines", id: "machines", show: true },
    {
      href: "/sessions",
      label: counted("Sessions", waiting.assigned),
      id: "sessions",
      show: true,
      count: waiting.assigned,
      hint: "Open sessions assigned to you",
    },
    {
      href: "/reviews",
      label: counted("Reviews", waiting.reviews),
      id: "reviews",
      show: can.reviewSessions,
      count: waiting.reviews,
      hint: "Sessions waiting for your review",
    },
    { href: "/figures", label: "Figures", id: "figures", show: can.reviewSessions },
    { href: "/search", label: "Search", id: "search", show: true },
    { href: "/approvals", label: "Approvals", id: "approvals", show: can.staff },
    { href: "/people", label: "People", id: "people", show: can.managePeople },
    { href: "/clients", label: "Clients", id: "clients", show: can.staff },
    { href: "/tokens", label: "API tokens", id: "tokens", show: can.staff },
    { href: "/audit", label: "Audit log", id: "audit", show: can.audit },
  ];
  return (
    <nav>
      {nav
        .filter((n) => n.show)
        .map((n) => (
          <a
            key={n.id}
            href={n.href}
            onClick={linkClick}
            class={path === n.href ? "active" : ""}
            data-testid={`nav-${n.id}`}
            data-count={n.count ?? ""}
            title={n.count ? `${n.hint}: ${n.count}` : undefined}
          >
            {n.label}
          </a>
        ))}
    </nav>
  );
}

function AccountMenu({ me, onSignOut }: { me: Me; onSignOut: (everywhere: boolean) => Promise<void> }) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const close = (event: Event) => {
      if (event instanceof KeyboardEvent ? event.key === "Escape" : !ref.current?.contains(event.target as Node))
        setOpen(false);
    };
    document.addEventListener("mousedown", close);
    document.addEventListener("keydown", close);
    return () => {
      document.removeEventListener("mousedown", close);
      document.removeEventListener("keydown", close);
    };
  }, [open]);
  const pick = (action: () => void) => () => {
    setOpen(false);
    action();
  };
  return (
    <div class="account" ref={ref}>
      <button
        type="button"
        class="ghost who"
        data-testid="account-menu"
        aria-haspopup="menu"
        aria-expanded={open}
        title={me.user.email}
        onClick={() => setOpen(!open)}
      >
        <span data-testid="whoami">
          {me.user.name} · {me.organization.name} <span class="role">{me.user.role}</span>
        </span>{" "}
        ▾
      </button>
      {open && (
        <div class="menu" role="menu">
          <div class="menu-head muted">{me.user.email}</div>
          <button type="button" role="menuitem" data-testid="menu-password" onClick={pick(() => navigate("/account"))}>
            Change password
          </button>
          <button type="button" role="menuitem" data-testid="logout" onClick={pick(() => void onSignOut(false))}>
            Sign out
          </button>
          <button
            type="button"
            role="menuitem"
            class="danger-text"
            data-testid="logout-all"
            onClick={pick(() => void onSignOut(true))}
          >
            Sign out everywhere
          </button>
        </div>
      )}
    </div>
  );
}

function NotAllowed() {
  return (
    <div class="page">
      <h1>Not available</h1>
      <p class="muted" data-testid="not-allowed">
        Your role cannot use this page.{" "}
        <a href="/machines" onClick={linkClick}>
          Back to machines
        </a>
      </p>
    </div>
  );
}

function NotFound({ path }: { path: string }) {
  return (
    <div class="page">
      <h1>Not found</h1>
      <p class="muted">
        Nothing lives at <code>{path}</code>.{" "}
        <a href="/machines" onClick={linkClick}>
          Back to machines
        </a>
      </p>
    </div>
  );
}
