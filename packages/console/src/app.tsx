// Shell of the console: decides where a visitor belongs (setup, login, or in), and routes.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, errorMessage, type Me, setUnauthorizedHandler } from "./api.ts";
import { LoginPage } from "./pages/login.tsx";
import { MachinesPage } from "./pages/machines.tsx";
import { SessionPage } from "./pages/session.tsx";
import { SetupPage } from "./pages/setup.tsx";
import { linkClick, navigate, usePath } from "./router.ts";

type AuthState =
  | { kind: "loading" }
  | { kind: "signed-in"; me: Me }
  | { kind: "signed-out"; setupRequired: boolean }
  | { kind: "error"; message: string };

const PUBLIC_PATHS = new Set(["/login", "/setup"]);

export function App() {
  const path = usePath();
  const [auth, setAuth] = useState<AuthState>({ kind: "loading" });
  /** Set by "Sign out": the next sign-in starts fresh instead of returning to this page. */
  const signedOutOnPurpose = useRef(false);

  const refresh = useCallback(async () => {
    try {
      const me = await api<Me>("GET", "/api/v1/me");
      setAuth({ kind: "signed-in", me });
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        try {
          const { setupRequired } = await api<{ setupRequired: boolean }>("GET", "/api/v1/setup");
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
      if (path === target) return;
      const keep = !signedOutOnPurpose.current && !PUBLIC_PATHS.has(path) && path !== "/";
      signedOutOnPurpose.current = false;
      const next = keep ? `?next=${encodeURIComponent(path)}` : "";
      navigate(`${target}${next}`, { replace: true });
    } else if (auth.kind === "signed-in" && (PUBLIC_PATHS.has(path) || path === "/")) {
      const next = new URLSearchParams(location.search).get("next");
      navigate(next?.startsWith("/") && !next.startsWith("//") ? next : "/machines", { replace: true });
    }
  }, [auth, path]);

  useEffect(() => {
    const name = auth.kind === "signed-in" ? auth.me.organization.name : "";
    const page = path.startsWith("/sessions/") ? "Session" : path === "/machines" ? "Machines" : "";
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
  const sessionMatch = /^\/sessions\/([^/]+)$/.exec(path);
  let page = <MachinesPage />;
  if (sessionMatch?.[1])
    page = <SessionPage key={sessionMatch[1]} sessionId={decodeURIComponent(sessionMatch[1])} me={me} />;
  else if (path !== "/machines" && path !== "/" && !PUBLIC_PATHS.has(path)) page = <NotFound path={path} />;

  return (
    <div class="layout">
      <header class="topbar">
        <a class="brand" href="/machines" onClick={linkClick}>
          caisey
        </a>
        <nav>
          <a
            href="/machines"
            onClick={linkClick}
            class={path === "/machines" ? "active" : ""}
            data-testid="nav-machines"
          >
            Machines
          </a>
        </nav>
        <div class="spacer" />
        <span class="who" data-testid="whoami" title={me.user.email}>
          {me.user.name} · {me.organization.name} <span class="role">{me.user.role}</span>
        </span>
        <button
          type="button"
          class="ghost"
          data-testid="logout"
          onClick={async () => {
            signedOutOnPurpose.current = true;
            try {
              await api("POST", "/api/v1/auth/logout");
            } catch {
              // Signed out either way from this page's point of view.
            }
            await refresh();
          }}
        >
          Sign out
        </button>
      </header>
      <main class="content">{page}</main>
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
