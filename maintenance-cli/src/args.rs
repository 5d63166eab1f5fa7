//! The command line: every command and flag of the `maintenance` binary, parsed by clap.
//!
//! Values that can be checked without the database (durations, times, patterns, networks,
//! domains, lengths) are checked here, so a bad one is a usage error (exit status 2) and
//! nothing is opened or written.

use std::net::SocketAddr;

use chrono::{DateTime, TimeDelta, Utc};
use clap::{Args, Parser, Subcommand};
use maintenance_core::ipnet::IpNet;
use maintenance_core::{SiteRef, SiteSelection, StateFilter};

use crate::admin::{AdminSetupError, OriginError, PublicOrigin};
use crate::parse;

/// The database used when neither `--database-url` nor `DATABASE_URL` is given.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://maintenance.db";

/// The address the admin page listens on by default.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:8085";

/// `maintenance`: put web services into maintenance mode from their shared database.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "maintenance",
    version,
    about = "Put web services into maintenance mode from their shared database",
    long_about = "Put web services into maintenance mode from their shared database.\n\n\
        Every server using maintenance-rs on the same database obeys within a fraction of a \
        second. Without --site, commands act on the default site.\n\n\
        Exit status: 0 on success, 1 on a failure, 2 on bad usage."
)]
pub struct Cli {
    /// The database: sqlite://FILE, postgres://..., mysql://... or mariadb://...
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        hide_env_values = true,
        default_value = DEFAULT_DATABASE_URL,
        value_name = "URL"
    )]
    pub database_url: String,

    /// Who makes the change, for the audit log [default: $USER, else `unknown`]
    #[arg(long, global = true, value_name = "NAME", value_parser = parse::actor)]
    pub actor: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The actor for the audit log: `--actor`, else `$USER`, else `unknown`.
    pub fn actor(&self) -> String {
        self.actor
            .clone()
            .or_else(|| {
                std::env::var("USER")
                    .ok()
                    .and_then(|u| parse::actor(&u).ok())
            })
            .unwrap_or_else(|| "unknown".to_owned())
    }
}

/// The commands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Create or update the tables (safe to run again).
    Migrate,
    /// Show every site's maintenance state, or one site's.
    Status(StatusArgs),
    /// Turn maintenance on: the options given define the whole state (the others are reset).
    On(OnArgs),
    /// Turn maintenance off and clear the window.
    Off(OffArgs),
    /// List, add or remove sites (domains).
    #[command(subcommand)]
    Sites(SitesCommand),
    /// List, add or remove ignored path patterns (regular expressions) of a site.
    Ignore(IgnoreArgs),
    /// List, add or remove allowed networks (CIDR) of a site.
    Allow(AllowArgs),
    /// Set a new bypass secret (printed once) or clear it.
    Bypass(BypassArgs),
    /// Show the audit log, newest first.
    Log(LogArgs),
    /// Serve the admin web page.
    Admin(AdminArgs),
    /// Run a command in maintenance: on (with the options of `on`) while it runs, back to the
    /// previous state when it succeeds, left on (exit status: the command's) when it fails.
    Run(RunArgs),
    /// Keep a NATS JetStream key-value bucket in step with the database, for servers that
    /// follow it with maintenance-nats (a server until stopped; run two for availability).
    Relay(RelayArgs),
    /// Copy a Django project's django-maintenancemode-2 state (sites, flags, ignored URLs)
    /// into these tables; running it again changes nothing.
    #[command(name = "import-django")]
    ImportDjango(ImportDjangoArgs),
    /// Follow the sites as a server does and deliver an event (JSON) for every change of
    /// their maintenance: to a command (--exec) and/or a webhook (--webhook, signed). A
    /// server until stopped.
    Watch(WatchArgs),
}

/// `status [--site D] [--tag T]... [--json]`
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Only this site (domain).
    #[arg(long, value_name = "DOMAIN", conflicts_with = "tags")]
    pub site: Option<String>,
    /// Only the sites carrying this tag; repeat for several (sites carrying any of them).
    #[arg(long = "tag", value_name = "TAG", value_parser = parse::tag)]
    pub tags: Vec<String>,
    /// Machine-readable output: a JSON array of sites (an object with --site).
    #[arg(long)]
    pub json: bool,
}

/// Which sites a command acts on: `[--site D]... [--tag T]... | --all`. Without any, the
/// default site.
#[derive(Debug, Clone, Default, Args)]
pub struct SiteChoice {
    /// A site (domain); repeat for several. Default: the default site.
    #[arg(long = "site", value_name = "DOMAIN", conflicts_with = "all")]
    pub sites: Vec<String>,
    /// Every site carrying this tag; repeat for several. With --site, those sites too.
    #[arg(long = "tag", value_name = "TAG", value_parser = parse::tag, conflicts_with = "all")]
    pub tags: Vec<String>,
    /// Every site.
    #[arg(long)]
    pub all: bool,
}

impl SiteChoice {
    /// The selection the store takes: every site, the named and tagged ones, or the default
    /// site.
    pub fn selection(&self) -> SiteSelection {
        let named = || {
            self.sites
                .iter()
                .map(|n| SiteRef::Domain(n.clone()))
                .collect()
        };
        if self.all {
            SiteSelection::All
        } else if !self.tags.is_empty() {
            SiteSelection::Tagged {
                sites: named(),
                tags: self.tags.clone(),
            }
        } else if self.sites.is_empty() {
            SiteSelection::Sites(vec![SiteRef::Default])
        } else {
            SiteSelection::Sites(named())
        }
    }
}

/// `on [--site D]... [--tag T]... [--all] [--message T] [--for DUR | --until TIME] [--from TIME]
/// [--retry-after SECS] [--read-only] [--only PATTERN]...`
#[derive(Debug, Clone, Args)]
pub struct OnArgs {
    /// The sites: `--site`, `--tag`, `--all`.
    #[command(flatten)]
    pub target: SiteChoice,
    /// The message shown to blocked users (default: the application's text).
    #[arg(long, value_name = "TEXT", value_parser = parse::message)]
    pub message: Option<String>,
    /// End maintenance after this long (from --from, else from now): 30m, 2h, 90s, 1h30m, 1d.
    #[arg(long = "for", value_name = "DUR", value_parser = parse::duration, conflicts_with = "until")]
    pub for_duration: Option<TimeDelta>,
    /// End maintenance at this time (RFC 3339, e.g. 2025-06-01T23:00:00Z).
    #[arg(long, value_name = "TIME", value_parser = parse::time)]
    pub until: Option<DateTime<Utc>>,
    /// Start maintenance at this time (RFC 3339) instead of now.
    #[arg(long, value_name = "TIME", value_parser = parse::time)]
    pub from: Option<DateTime<Utc>>,
    /// The Retry-After value in seconds (default: derived from the window end).
    #[arg(long, value_name = "SECS")]
    pub retry_after: Option<u32>,
    /// Read-only mode: GET, HEAD and OPTIONS pass, writes are blocked (default: full).
    #[arg(long)]
    pub read_only: bool,
    /// Partial maintenance: only paths matching this pattern (a regular expression matched
    /// at the start of the path without its leading `/`, as for ignored paths) are in
    /// maintenance; repeat for several. Without it, the whole site is.
    #[arg(long = "only", value_name = "PATTERN", value_parser = parse::pattern, allow_hyphen_values = true)]
    pub only: Vec<String>,
}

/// `run [--site D]... [--tag T]... [--all] [the options of on] -- CMD [ARGS]...`
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The sites and the state while the command runs, as for `on`.
    #[command(flatten)]
    pub on: OnArgs,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// `import-django --from URL [--site-id N] [--prune] [--dry-run]`
#[derive(Debug, Clone, Args)]
pub struct ImportDjangoArgs {
    /// The Django project's database (sqlite://FILE, postgres://..., mysql://...), read only
    #[arg(long = "from", value_name = "URL")]
    pub from: String,
    /// The Django SITE_ID: that site's flag and ignored URLs go onto the default site, which
    /// serves every host no site names, as the SITE_ID site does for Django
    #[arg(long, value_name = "N", env = "DJANGO_SITE_ID", default_value_t = 1, value_parser = parse::site_id)]
    pub site_id: i64,
    /// Also remove the ignored patterns a site has here that its Django site does not have
    #[arg(long)]
    pub prune: bool,
    /// Print what would change, and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// `off [--site D]... [--tag T]... [--all]`
#[derive(Debug, Clone, Args)]
pub struct OffArgs {
    /// The sites: `--site`, `--tag`, `--all`.
    #[command(flatten)]
    pub target: SiteChoice,
}

/// `sites list [--search T] [--state S] [--tag T]... [--page N] [--per-page N] [--json]|add D
/// [--name N]|remove D|tag add|remove D TAG...`
#[derive(Debug, Clone, Subcommand)]
pub enum SitesCommand {
    /// List the sites, a page at a time: the default site first, then by domain.
    List(ListArgs),
    /// Add a site for a domain.
    Add {
        /// The domain, e.g. shop.example.com.
        #[arg(value_name = "DOMAIN", value_parser = parse::domain)]
        domain: String,
        /// A display name (default: the domain).
        #[arg(long, value_name = "NAME", value_parser = parse::site_name)]
        name: Option<String>,
    },
    /// Remove a site with its patterns and networks (not the default site).
    Remove {
        /// The domain.
        #[arg(value_name = "DOMAIN")]
        domain: String,
    },
    /// Add or remove a site's tags (labels that group sites: `on --tag TAG`).
    #[command(subcommand)]
    Tag(TagAction),
}

/// `sites tag add|remove D TAG...`
#[derive(Debug, Clone, Subcommand)]
pub enum TagAction {
    /// Add tags to a site (1 to 48 characters of a-z, 0-9, `_`, `.` and `-`; lower-cased).
    Add {
        /// The site (domain).
        #[arg(value_name = "DOMAIN")]
        domain: String,
        /// The tags.
        #[arg(value_name = "TAG", required = true, value_parser = parse::tag)]
        tags: Vec<String>,
    },
    /// Remove tags from a site.
    Remove {
        /// The site (domain).
        #[arg(value_name = "DOMAIN")]
        domain: String,
        /// The tags.
        #[arg(value_name = "TAG", required = true, value_parser = parse::tag)]
        tags: Vec<String>,
    },
}

/// `sites list [--search T] [--state on|off|scheduled] [--tag T]... [--page N] [--per-page N] [--json]`
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Only sites whose domain or name contains this text (case-insensitive).
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Only sites in this state now: on, off or scheduled.
    #[arg(long, value_name = "STATE", value_parser = parse::state_filter)]
    pub state: Option<StateFilter>,
    /// Only sites carrying this tag; repeat for several (sites carrying any of them).
    #[arg(long = "tag", value_name = "TAG", value_parser = parse::tag)]
    pub tags: Vec<String>,
    /// The page to show, from 1.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = parse::page)]
    pub page: u64,
    /// Sites per page, at most 1000.
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = parse::per_page)]
    pub per_page: u32,
    /// Machine-readable output: a JSON object with the total, the page and its sites.
    #[arg(long)]
    pub json: bool,
}

/// `ignore list|add PATTERN [--description T]|remove PATTERN [--site D]`
#[derive(Debug, Clone, Args)]
pub struct IgnoreArgs {
    /// The site (domain). Default: the default site.
    #[arg(long, global = true, value_name = "DOMAIN")]
    pub site: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub action: IgnoreAction,
}

/// The `ignore` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum IgnoreAction {
    /// List the site's ignored patterns.
    List,
    /// Add a pattern: a regular expression matched at the start of the path without its
    /// leading `/` (e.g. `^health/$`). Adding one already there updates its description.
    Add {
        /// The regular expression.
        #[arg(value_name = "PATTERN", value_parser = parse::pattern, allow_hyphen_values = true)]
        pattern: String,
        /// Why it is ignored.
        #[arg(long, value_name = "TEXT", default_value = "", value_parser = parse::description)]
        description: String,
    },
    /// Remove a pattern, written exactly as listed.
    Remove {
        /// The pattern.
        #[arg(value_name = "PATTERN", allow_hyphen_values = true)]
        pattern: String,
    },
}

/// `allow list|add CIDR [--description T]|remove CIDR [--site D]`
#[derive(Debug, Clone, Args)]
pub struct AllowArgs {
    /// The site (domain). Default: the default site.
    #[arg(long, global = true, value_name = "DOMAIN")]
    pub site: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub action: AllowAction,
}

/// The `allow` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum AllowAction {
    /// List the site's allowed networks.
    List,
    /// Add a network (CIDR, or a single address). Adding one already there updates its
    /// description.
    Add {
        /// The network, e.g. 10.0.0.0/8 or 2001:db8::/32.
        #[arg(value_name = "CIDR", value_parser = parse::network)]
        network: String,
        /// Whose network it is.
        #[arg(long, value_name = "TEXT", default_value = "", value_parser = parse::description)]
        description: String,
    },
    /// Remove a network.
    Remove {
        /// The network.
        #[arg(value_name = "CIDR", value_parser = parse::network)]
        network: String,
    },
}

/// `bypass new|clear [--site D]`
#[derive(Debug, Clone, Args)]
pub struct BypassArgs {
    /// The site (domain). Default: the default site.
    #[arg(long, global = true, value_name = "DOMAIN")]
    pub site: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub action: BypassAction,
}

/// The `bypass` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum BypassAction {
    /// Set a new random secret; prints it and the bypass URL once (only a hash is stored).
    New {
        /// Scheme and host (and path, if the app is mounted below one) for the printed URL,
        /// e.g. https://shop.example.com. Default: http://<site domain>.
        #[arg(long, value_name = "URL", value_parser = parse::base_url)]
        base_url: Option<String>,
    },
    /// Clear the secret: links and cookies handed out before stop working.
    Clear,
}

/// `log [--site D] [--limit N] [--json]`
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Only this site's events.
    #[arg(long, value_name = "DOMAIN")]
    pub site: Option<String>,
    /// At most this many events (1 to 10000).
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
    /// Machine-readable output: a JSON array of events.
    #[arg(long)]
    pub json: bool,
}

/// `relay --nats-url URL [--bucket NAME] [--metrics-listen ADDR] [--once]`
#[derive(Debug, Clone, Args)]
pub struct RelayArgs {
    /// The NATS server(s) to write to, e.g. nats://127.0.0.1:4222 (several separated by
    /// commas). JetStream must be enabled on them (nats-server -js).
    #[arg(long, value_name = "URL", env = "NATS_URL")]
    pub nats_url: String,
    /// The key-value bucket to write (created if it is not there).
    #[arg(
        long,
        value_name = "NAME",
        env = "MAINTENANCE_NATS_BUCKET",
        default_value = maintenance_nats::DEFAULT_BUCKET
    )]
    pub bucket: String,
    /// Serve the relay's metrics (Prometheus text) at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Write the bucket once (everything) and exit, instead of following the database.
    #[arg(long)]
    pub once: bool,
}

/// `watch [--site D]... [--tag T]... [--exec CMD] [--webhook URL] [--secret-env VAR]`
#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// Only these sites (domains); every site without it or --tag, those added later too.
    #[arg(long = "site", value_name = "DOMAIN")]
    pub sites: Vec<String>,
    /// Only the sites carrying this tag, as they are tagged and untagged; repeat for several.
    /// With --site, those sites too.
    #[arg(long = "tag", value_name = "TAG", value_parser = crate::parse::tag)]
    pub tags: Vec<String>,
    /// Run this shell command (`sh -c`) for each event, the event as JSON on its standard
    /// input; a non-zero exit is retried.
    #[arg(long, value_name = "CMD")]
    pub exec: Option<String>,
    /// POST each event (JSON) to this URL, signed in the `Maintenance-Signature` header; an
    /// answer other than 2xx is retried.
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
    /// The environment variable that holds the webhook's signing secret.
    #[arg(long, value_name = "VAR", default_value = "MAINTENANCE_WEBHOOK_SECRET")]
    pub secret_env: String,
}

/// `admin [--listen ADDR] [--token TOKEN] [--public-origin URL]... [--insecure-no-auth]`
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_ADMIN_LISTEN)]
    pub listen: SocketAddr,
    /// The token to log in with, at least 32 characters, e.g. from `openssl rand -hex 32`
    /// (prefer the environment variable: arguments are visible to other local users).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "MAINTENANCE_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// An origin the page is also reached at, e.g. https://ops.example.com behind a TLS proxy;
    /// repeat for several (comma-separated in the environment variable). Requests for any other
    /// host than these, the listen address and the loopback names (localhost, 127.0.0.1, ::1)
    /// with the listen port are refused.
    // Kept as text and checked by `public_origins()`, so that an empty variable (or a trailing
    // comma) means no origin rather than a bad one.
    #[arg(
        long = "public-origin",
        value_name = "URL",
        env = "MAINTENANCE_ADMIN_PUBLIC_ORIGIN",
        value_delimiter = ','
    )]
    pub public_origins: Vec<String>,
    /// A proxy (address or CIDR network) whose X-Forwarded-For names the client, e.g. the TLS
    /// proxy in front of the page; repeat for several (comma-separated in the environment
    /// variable). Behind it, the login backoff and the audit log use the client's address;
    /// without it, every client behind the proxy shares the proxy's.
    #[arg(
        long = "trusted-proxy",
        value_name = "CIDR",
        env = "MAINTENANCE_ADMIN_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,
    /// Serve without a token; only allowed on a loopback address.
    #[arg(long)]
    pub insecure_no_auth: bool,
}

impl AdminArgs {
    /// The public origins given, blank ones left out; the first bad one is an error naming it.
    pub fn public_origins(&self) -> Result<Vec<PublicOrigin>, OriginError> {
        self.public_origins
            .iter()
            .filter(|o| !o.trim().is_empty())
            .map(|o| o.parse())
            .collect()
    }

    /// The trusted proxies given, blank ones left out; the first bad one is an error naming
    /// it.
    pub fn trusted_proxies(&self) -> Result<Vec<IpNet>, AdminSetupError> {
        self.trusted_proxies
            .iter()
            .filter(|p| !p.trim().is_empty())
            .map(|p| {
                maintenance_core::validate::network(p)
                    .map_err(|_| AdminSetupError::TrustedProxy { value: p.clone() })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn for_conflicts_with_until() {
        let err = Cli::try_parse_from([
            "maintenance",
            "on",
            "--for",
            "1h",
            "--until",
            "2030-01-01T00:00:00Z",
        ])
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    /// The arguments of `maintenance admin` followed by `args`.
    fn admin_args(args: &[&str]) -> AdminArgs {
        let cli = Cli::try_parse_from(["maintenance", "admin"].iter().chain(args)).unwrap();
        match cli.command {
            Command::Admin(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn trusted_proxies_are_checked_naming_a_bad_one() {
        let admin = |args: &[&str]| admin_args(args).trusted_proxies();
        let proxies = admin(&[
            "--trusted-proxy",
            "127.0.0.1,",
            "--trusted-proxy",
            "10.0.0.0/8",
        ]);
        let shown: Vec<String> = proxies.unwrap().iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["127.0.0.1/32", "10.0.0.0/8"]);
        let err = admin(&["--trusted-proxy", "10.0.0.0/8,proxy.local"]).unwrap_err();
        assert!(err.to_string().contains("`proxy.local`"), "{err}");
    }

    #[test]
    fn public_origins_are_checked_and_blank_ones_left_out() {
        let admin = |args: &[&str]| admin_args(args).public_origins();
        let origins = admin(&[
            "--public-origin",
            "https://a.example,",
            "--public-origin",
            "http://b.example:8080",
        ])
        .unwrap();
        let shown: Vec<String> = origins.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["https://a.example", "http://b.example:8080"]);
        assert_eq!(admin(&["--public-origin", ""]).unwrap(), []);
        let err = admin(&["--public-origin", "https://a.example,ops.example"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("invalid public origin `ops.example`"),
            "{err}"
        );
    }

    #[test]
    fn site_is_accepted_before_and_after_the_action() {
        for args in [
            &["maintenance", "ignore", "--site", "a.example", "list"][..],
            &["maintenance", "ignore", "list", "--site", "a.example"][..],
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            match cli.command {
                Command::Ignore(i) => assert_eq!(i.site.as_deref(), Some("a.example")),
                other => panic!("{other:?}"),
            }
        }
    }
}
