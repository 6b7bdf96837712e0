//! The block explorer in a real browser: headless Chromium, driven through chromedriver
//! (WebDriver), against a devnet with two providers that ran a digits job and stores a file.
//! Each page is checked for what a person would see (the height moving on the overview without
//! a reload, the job's timeline and status, an account's balance and history, the stored file
//! and its shards, a governance proposal with its markup shown as text, its voters and tally, the
//! search box finding a height, an address, a transaction and a job), and any
//! JavaScript error the page records fails the test. When the node stops, the page says so.
//!
//! CI profile (`.ci/install` installs Debian's `chromium` and `chromium-driver`). A missing
//! browser fails the test under CI (the `CI` environment variable set) and skips it loudly
//! elsewhere. With `PLEXUS_EXPLORER_SHOTS=DIR` it also saves PNG screenshots of the main pages
//! into DIR.

mod common;

use common::{Process, free_port, keystore_devnet_validator, tempdir, wait_for};
use fantoccini::{Client as Browser, ClientBuilder, Locator};
use plexus_client::Client;
use serde_json::{Value, json};
use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// What the providers register instead of measuring (as in the compute tests), so the job is
/// matched on any machine.
const FUEL_PER_SECOND: &str = "100000000";
/// How long a page may take to render (it reads up to a few hundred blocks on a loaded machine).
const PAGE_TIMEOUT: Duration = Duration::from_secs(60);
/// The devnet's proposal's title: markup a page must show as text, not render.
const PROPOSAL_TITLE: &str = "More light audits <b>now</b>";

/// The tool's path, or `None` after saying loudly why the test is skipped; under CI a missing
/// tool fails the test (the convention of `contract.rs`).
fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is not installed: CI must run .ci/install first"
        );
        eprintln!(
            "\n*** SKIPPED: {name} is not installed. Run .ci/install (see README, Set-up) to \
             check the explorer in a browser. ***\n"
        );
    }
    found
}

type Net = common::Devnet;

fn devnet(dir: &Path) -> (Net, Client) {
    let net = Net::spawn(dir, 2, &["--provider-fuel-per-second", FUEL_PER_SECOND]);
    let client = net.client.clone();
    wait_for(
        "the providers to register",
        Duration::from_secs(180),
        || {
            client
                .providers()
                .is_ok_and(|p| p.iter().filter(|p| p.active).count() == 2)
                && client
                    .storage_providers()
                    .is_ok_and(|o| o.iter().filter(|o| o.active).count() == 2)
        },
    );
    (net, client)
}

/// What the browser test looks for, made on the devnet first.
struct Seen {
    job: String,
    /// The provider that ran it.
    provider: String,
    file: String,
    dev0: String,
    /// dev0's balance once its job settled and its file is stored, as `plexus` prints it.
    balance: String,
    /// A finalized transaction that is neither a job nor a storage deal.
    tx: String,
    /// A height the chain has.
    height: u64,
}

/// Runs a digits job and stores a small file from `dev0`.
fn populate(net: &Net, client: &Client, dir: &Path) -> Seen {
    let heldout = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../jobs/build/digits-heldout.csv"),
    )
    .unwrap();
    let images: String = heldout
        .lines()
        .take(8)
        .map(|line| format!("{}\n", line.rsplit_once(',').unwrap().0))
        .collect();
    let input = dir.join("images.csv");
    std::fs::write(&input, images).unwrap();
    let run = net.json(&[
        "job",
        "run",
        "--from",
        "dev0",
        "--module",
        "digits",
        "--input",
        input.to_str().unwrap(),
        "--max-fuel",
        "100000000",
        // Re-run in full by the other provider: the timeline has an audit and its verdict.
        "--audit",
        "full",
    ]);
    let job = run["job_id"].as_str().unwrap().to_string();
    assert_eq!(run["output"]["labels"].as_array().unwrap().len(), 8);
    wait_for("the job to settle", Duration::from_secs(120), || {
        client
            .job(&job)
            .is_ok_and(|j| j.status == plexus_client::dto::JobStatus::Settled)
    });
    let provider = client.job(&job).unwrap().provider.unwrap();

    let file = dir.join("notes.txt");
    std::fs::write(&file, "what the explorer lists\n".repeat(100)).unwrap();
    let put = net.json(&["store", "put", file.to_str().unwrap(), "--from", "dev0"]);
    let file = put["id"].as_str().unwrap().to_string();

    // A proposal with markup in its title (the page must show it as text), with the
    // validator's yes vote.
    keystore_devnet_validator(&net.home, client);
    let proposed = net.json(&[
        "gov",
        "propose",
        "--from",
        "dev0",
        "--param",
        "audit.light_audit_ppm=150000",
        "--title",
        PROPOSAL_TITLE,
        "--description",
        "More light audits while the network is young.",
    ]);
    assert_eq!(proposed["receipt"]["status"], "success", "{proposed}");
    let voted = net.json(&["gov", "vote", "0", "yes", "--from", "validator"]);
    assert_eq!(voted["receipt"]["status"], "success", "{voted}");

    let dev0 = String::from_utf8(net.plexus(&["keys", "show", "dev0"]).stdout)
        .unwrap()
        .trim()
        .to_string();
    let balance: u128 = client
        .account(&dev0.parse().unwrap())
        .unwrap()
        .balance
        .parse()
        .unwrap();
    let tip = client.status().unwrap().height;
    let tx = (1..=tip)
        .flat_map(|h| client.block(Some(h)).unwrap().txs)
        .find(|tx| tx.kind == "provider_register")
        .expect("the providers registered on chain")
        .hash;
    Seen {
        job,
        provider,
        file,
        dev0,
        balance: plexus_types::amount::DisplayPlx(balance).to_string(),
        tx,
        height: tip / 2,
    }
}

#[test]
fn the_explorer_in_a_browser_over_a_devnet_with_jobs_and_files() {
    let (Some(chromium), Some(chromedriver)) = (tool("chromium"), tool("chromedriver")) else {
        return;
    };
    let dir = tempdir("explorer");
    let (mut net, client) = devnet(&dir);
    let seen = populate(&net, &client, &dir);
    // `plexus devnet` says where the explorer is.
    let printed = std::fs::read_to_string(dir.join("devnet.log")).unwrap();
    assert!(
        printed.contains(&format!("explorer  {}/\n", net.url())),
        "{printed}"
    );

    // The page is served beside the API, which keeps its own answers.
    let page = reqwest::blocking::get(format!("{}/", net.url())).unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let missing = reqwest::blocking::get(format!("{}/v1/nothing", net.url())).unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().unwrap().contains("\"not_found\""));
    let metrics = reqwest::blocking::get(format!("{}/metrics", net.url())).unwrap();
    assert!(metrics.text().unwrap().contains("# TYPE"));

    let port = free_port();
    let log = std::fs::File::create(dir.join("chromedriver.log")).unwrap();
    let _driver = Process(
        Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    wait_for("chromedriver to listen", Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });

    let shots = std::env::var_os("PLEXUS_EXPLORER_SHOTS").map(PathBuf::from);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let browser = runtime.block_on(connect(port, &chromium, &dir));
    let tour = Tour {
        browser: &browser,
        base: net.url(),
        shots: shots.as_deref(),
    };
    let run = runtime.block_on(async {
        tour.pages(&seen).await?;
        tour.search(&seen).await?;
        // The node goes away: the page says it cannot reach it.
        drop(net.process.take());
        tour.wait_js(
            "the status line to say the node is unreachable",
            "return document.getElementById('status-line').classList.contains('down')",
        )
        .await?;
        tour.no_errors("the node stopped").await?;
        // The check above sees an error the page throws (else it could never fail).
        tour.js("setTimeout(() => { throw new Error('thrown on purpose'); }, 0)")
            .await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        // (Chromium reports an error from injected code as "Script error.")
        match tour.no_errors("a page that throws").await {
            Err(_) => Ok(()),
            Ok(()) => Err("the error check missed a thrown error".to_string()),
        }
    });
    // Whatever happened, the browser quits (chromedriver stopping leaves it running).
    let closed = runtime.block_on(browser.close());
    run.unwrap_or_else(|e| panic!("{e}"));
    closed.unwrap();
}

/// A headless Chromium session (its profile in `dir`).
async fn connect(port: u16, chromium: &Path, dir: &Path) -> Browser {
    let profile = dir.join("chromium-profile");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless=new",
                // Root in a container has no user namespaces for the sandbox.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=1400,1000",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a chromium session through chromedriver")
}

struct Tour<'a> {
    browser: &'a Browser,
    base: String,
    shots: Option<&'a Path>,
}

type Check = Result<(), String>;

impl Tour<'_> {
    /// Opens the explorer at `route` (a hash route), waits for the view to finish rendering and
    /// for no recorded JavaScript error; returns the main element's text.
    async fn open(&self, route: &str) -> Result<String, String> {
        let url = format!("{}/{route}", self.base);
        self.browser
            .goto(&url)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        self.rendered(route).await
    }

    /// Waits for the view a click or a search led to (`view`, the router's name for it) to be
    /// rendered; returns the main element's text. Waiting for the view's name, not only for the
    /// page to be ready, keeps the page the click left from being read: it stays ready until the
    /// router, a task later, starts the next one.
    async fn rendered_view(&self, view: &str, what: &str) -> Result<String, String> {
        self.wait_js(
            &format!("{what} ({view}) to be the page shown"),
            &format!("return document.body.dataset.view === {}", json!(view)),
        )
        .await?;
        self.rendered(what).await
    }

    /// Waits for the current view to be rendered; returns the main element's text.
    async fn rendered(&self, what: &str) -> Result<String, String> {
        self.wait_js(
            &format!("{what} to render"),
            "return document.getElementById('view').dataset.ready === '1'",
        )
        .await?;
        self.no_errors(what).await?;
        self.text("main").await
    }

    /// The rendered text of the element at `css` (WebDriver's text). The live pages re-render as
    /// blocks arrive, so an element found may be replaced before it is read: then it is found
    /// again.
    async fn text(&self, css: &str) -> Result<String, String> {
        let mut tries = 0;
        loop {
            let element = self
                .browser
                .find(Locator::Css(css))
                .await
                .map_err(|e| format!("{css}: {e}"))?;
            match element.text().await {
                Ok(text) => return Ok(text),
                Err(e) if tries < 5 && e.to_string().contains("stale element") => tries += 1,
                Err(e) => return Err(format!("{css}: {e}")),
            }
        }
    }

    async fn js(&self, script: &str) -> Result<Value, String> {
        self.browser
            .execute(script, vec![])
            .await
            .map_err(|e| format!("{script}: {e}"))
    }

    /// Polls `script` (which returns a boolean) until it is true.
    async fn wait_js(&self, what: &str, script: &str) -> Check {
        let started = Instant::now();
        loop {
            if self.js(script).await? == Value::Bool(true) {
                return Ok(());
            }
            if started.elapsed() > PAGE_TIMEOUT {
                let main = self.text("main").await.unwrap_or_default();
                return Err(format!(
                    "timed out waiting for {what}; the page shows:\n{main}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Fails on any error the page recorded (`window.onerror`, unhandled rejections,
    /// `console.error`).
    async fn no_errors(&self, what: &str) -> Check {
        let errors = self
            .js("return window.__explorerErrors || ['the script did not run']")
            .await?;
        match errors.as_array() {
            Some(list) if list.is_empty() => Ok(()),
            _ => Err(format!("JavaScript errors on {what}: {errors}")),
        }
    }

    async fn shot(&self, name: &str) -> Check {
        let Some(dir) = self.shots else {
            return Ok(());
        };
        let png = self.browser.screenshot().await.map_err(|e| e.to_string())?;
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        std::fs::write(dir.join(format!("{name}.png")), png).map_err(|e| e.to_string())
    }

    async fn pages(&self, seen: &Seen) -> Check {
        // The overview: numbers, plots, and the height moving without a reload.
        let main = self.open("#/").await?;
        for label in [
            "Height",
            "Finality latency",
            "Supply",
            "Minted",
            "Burned",
            "Audit pool",
        ] {
            if !main.to_uppercase().contains(&label.to_uppercase()) {
                return Err(format!("the overview has no {label}: {main}"));
            }
        }
        let plots = self
            .js("return document.querySelectorAll('.plot svg').length")
            .await?;
        if plots.as_u64() < Some(6) {
            return Err(format!("the overview draws {plots} plots"));
        }
        // The epoch's heights and length (the chain's epoch schedule).
        let epoch = self.text("#card-epoch .value").await?;
        if !(epoch.contains("heights ") && epoch.contains('–') && epoch.contains(" blocks")) {
            return Err(format!("the epoch card shows {epoch:?}"));
        }
        let height = |text: String| text.replace(',', "").trim().parse::<u64>();
        let first = height(self.text("#card-height .value").await?)
            .map_err(|e| format!("the height card: {e}"))?;
        self.wait_js(
            "the height to move live",
            &format!(
                "const v = document.querySelector('#card-height .value'); \
                 return !!v && Number(v.textContent.replace(/,/g, '')) > {first}"
            ),
        )
        .await?;
        self.wait_js(
            "the status line to say it is live",
            "return document.getElementById('status-line').classList.contains('live')",
        )
        .await?;
        self.no_errors("the live overview").await?;
        self.shot("overview").await?;

        // The job: its status and whole timeline.
        let main = self.open(&format!("#/job/{}", seen.job)).await?;
        let status = self.text("#job-status").await?;
        if status.trim() != "settled" {
            return Err(format!("the job page shows status {status:?}: {main}"));
        }
        let steps = self
            .js("return [...document.querySelectorAll('#job-timeline li')].map(li => [li.dataset.step, li.className.includes('pending')])")
            .await?;
        let steps_named = [
            "Posted",
            "Matched",
            "Committed",
            "Audit drawn",
            "Verdict",
            "Settlement",
            "Bill",
        ];
        for step in steps_named {
            if !steps
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s[0] == step && s[1] == false)
            {
                return Err(format!("the timeline has no finished {step}: {steps}"));
            }
        }
        if !main.contains(" PLX") || !main.contains("full audit by") || !main.contains("passed") {
            return Err(format!("the job's audit or bill is missing: {main}"));
        }
        self.shot("job").await?;

        // The consumer's account: a balance in PLX, its job and file, its history.
        let main = self.open(&format!("#/account/{}", seen.dev0)).await?;
        let balance = self.text("#account-balance").await?;
        // The exact amount, in PLX with its thousands grouped.
        if balance.replace(',', "") != seen.balance {
            return Err(format!(
                "the account shows the balance {balance:?}, the API {}",
                seen.balance
            ));
        }
        self.wait_js(
            "the account's history",
            "const h = document.getElementById('history'); return !!h && !!h.querySelector('table')",
        )
        .await?;
        let history = self.text("#history").await?;
        for kind in ["job_post", "deal_post"] {
            if !history.contains(kind) {
                return Err(format!("the history has no {kind}: {history}"));
            }
        }
        if !main.contains(&seen.job[..10]) {
            return Err(format!("the account does not list its job: {main}"));
        }
        self.no_errors("the account's history").await?;
        self.shot("account").await?;

        // Storage: the file in the list, then its shards.
        let main = self.open("#/storage").await?;
        if !main.contains(&seen.file[..10]) {
            return Err(format!("the storage page does not list the file: {main}"));
        }
        self.browser
            .find(Locator::Css(&format!("a[href='#/file/{}']", seen.file)))
            .await
            .map_err(|e| e.to_string())?
            .click()
            .await
            .map_err(|e| e.to_string())?;
        let main = self.rendered_view("file", "the file page").await?;
        let shards = self
            .js("return document.querySelectorAll('main table tbody tr').length")
            .await?;
        // One segment, k of n = 2 shards with the two providers: each shard a row, active.
        if !main.contains("Segment 0") || shards.as_u64() != Some(2) || !main.contains(" active ") {
            return Err(format!("the file page shows no shards: {main}"));
        }
        self.shot("file").await?;

        // The lists.
        for (route, expect) in [
            ("#/validators", "Signed this epoch"),
            // The genesis validator's commission, the chain's default of 1,000 bps.
            ("#/validators", "10.00%"),
            // The governed parameters with their bounds, and the proposal (its title as text).
            ("#/governance", "audit.light_audit_ppm"),
            ("#/governance", PROPOSAL_TITLE),
            ("#/providers", "Audits passed"),
            ("#/verifiers", "Audits done"),
            ("#/jobs", "settled"),
            ("#/blocks", "Proposer"),
            (&format!("#/block/{}", seen.height), "Transaction root"),
        ] {
            // Table headings are shown in capitals.
            let main = self.open(route).await?.to_lowercase();
            if !main.contains(&expect.to_lowercase()) {
                return Err(format!("{route} shows no {expect:?}: {main}"));
            }
            if let Some(name) = route.strip_prefix("#/").filter(|r| !r.contains('/')) {
                self.shot(name).await?;
            }
        }
        // From the governance page to the proposal: its changes, voters and tally.
        self.open("#/governance").await?;
        self.browser
            .find(Locator::Css("a[href='#/proposal/0']"))
            .await
            .map_err(|e| e.to_string())?
            .click()
            .await
            .map_err(|e| e.to_string())?;
        let main = self.rendered_view("proposal", "the proposal page").await?;
        self.shot("proposal").await?;
        for expect in [
            PROPOSAL_TITLE,
            "More light audits while the network is young.",
            "audit.light_audit_ppm",
            "150000",
            // The validator's self-bond voted yes; nothing else is bonded.
            "yes 10,000 PLX · no 0 PLX",
            "100.00% of 10,000 PLX bonded",
        ] {
            if !main.contains(expect) {
                return Err(format!("the proposal page shows no {expect:?}: {main}"));
            }
        }
        let voters = self
            .js("return [...document.querySelectorAll('dt')].find((d) => d.textContent === 'Voters').nextElementSibling.textContent")
            .await?;
        if voters != json!("1") {
            return Err(format!("the proposal page shows {voters} voters"));
        }
        self.no_errors("the proposal page").await?;

        // From the providers' list to the one that ran the job.
        self.open("#/providers").await?;
        self.browser
            .find(Locator::Css(&format!(
                "a[href='#/provider/{}']",
                seen.provider
            )))
            .await
            .map_err(|e| e.to_string())?
            .click()
            .await
            .map_err(|e| e.to_string())?;
        let main = self.rendered_view("provider", "the provider page").await?;
        if !main.contains("Measured speed") || !main.contains(&seen.job[..10]) {
            return Err(format!("the provider page shows no speed or job: {main}"));
        }
        Ok(())
    }

    /// Types `query` into the search box and submits it; waits for `hash` and the view.
    async fn search_for(&self, query: &str, hash: &str) -> Result<String, String> {
        self.js("document.getElementById('view').dataset.ready = ''")
            .await?;
        let input = self
            .browser
            .find(Locator::Id("search-input"))
            .await
            .map_err(|e| e.to_string())?;
        input.clear().await.map_err(|e| e.to_string())?;
        input.send_keys(query).await.map_err(|e| e.to_string())?;
        self.browser
            .find(Locator::Css("#search button"))
            .await
            .map_err(|e| e.to_string())?
            .click()
            .await
            .map_err(|e| e.to_string())?;
        self.wait_js(
            &format!("the search for {query} to land on {hash}"),
            &format!("return location.hash === {}", json!(hash)),
        )
        .await?;
        let view = hash
            .trim_start_matches("#/")
            .split('/')
            .next()
            .unwrap_or_default();
        self.rendered_view(view, &format!("the search for {query}"))
            .await
    }

    async fn search(&self, seen: &Seen) -> Check {
        self.open("#/").await?;
        let main = self
            .search_for(
                &seen.height.to_string(),
                &format!("#/block/{}", seen.height),
            )
            .await?;
        if self.text("#block-height").await? != seen.height.to_string() {
            return Err(format!("the search for a height shows {main}"));
        }
        self.search_for(&seen.dev0, &format!("#/account/{}", seen.dev0))
            .await?;
        let main = self
            .search_for(&seen.tx, &format!("#/tx/{}", seen.tx))
            .await?;
        if !main.contains("provider_register") || !main.contains("finalized") {
            return Err(format!("the search for a transaction shows {main}"));
        }
        self.shot("tx").await?;
        self.search_for(&seen.job, &format!("#/job/{}", seen.job))
            .await?;
        self.text("#job-timeline").await?;
        // Nothing has this hash: the page says so and breaks nothing.
        let nothing = "ab".repeat(32);
        self.js("document.getElementById('view').dataset.ready = ''")
            .await?;
        let input = self
            .browser
            .find(Locator::Id("search-input"))
            .await
            .map_err(|e| e.to_string())?;
        input.clear().await.map_err(|e| e.to_string())?;
        input
            .send_keys(&format!("{nothing}\n"))
            .await
            .map_err(|e| e.to_string())?;
        let main = self.rendered("a search that finds nothing").await?;
        if !main.contains("Not found") {
            return Err(format!("a search for nothing shows {main}"));
        }
        Ok(())
    }
}
