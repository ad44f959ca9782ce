//! Memory search: chunks kept in step with documents, hybrid retrieval by
//! RRF with each ranker's contribution, prefix filters, and the `claw
//! memory` CLI over the database it is given — on both backends.

use crate::common::{TestHome, ok, stdout};
use crate::db::TestDb;
use crate::on_both_backends;
use claw::memory::index::{Embedder, Memory};
use claw::store::workspace::Origin;

on_both_backends!(
    hybrid_search_finds_and_explains,
    the_index_follows_moves_and_deletes,
    rrf_k_is_configurable,
    the_memory_cli_writes_lists_reads_and_searches_the_database_it_is_given,
);

async fn seeded(db: &TestDb, k: f64) -> Memory {
    let store = db.store().await;
    let ws = store.workspace();
    ws.write("ops/deploy.md", "The deployment pipeline builds the container image and pushes it to the registry.\n\nRollbacks use the previous image tag.", Origin::Operator).await.unwrap();
    ws.write(
        "ops/oncall.md",
        "The on-call engineer watches the alerts dashboard and pages the owner of a failing service.",
        Origin::Operator,
    )
    .await
    .unwrap();
    ws.write(
        "recipes/cake.md",
        "Lemon cake: sugar, flour, lemons and butter. Bake for forty minutes.",
        Origin::Operator,
    )
    .await
    .unwrap();
    ws.write("src/deploy.rs", "fn deploy(image: &str) {\n    push_to_registry(image);\n}\n", Origin::Operator)
        .await
        .unwrap();
    let memory = Memory::new(store, Embedder::Offline, k);
    assert_eq!(memory.embed_all(|_, _| {}).await.unwrap(), 4, "one chunk per short document");
    memory
}

async fn hybrid_search_finds_and_explains(db: &TestDb) {
    let memory = seeded(db, 60.0).await;
    let r = memory.search("how does the deployment pipeline push images", 5, "").await.unwrap();
    assert!(r.degraded.is_none() && r.pending == 0);
    assert_eq!(r.hits[0].path, "ops/deploy.md", "{:#?}", r.hits);
    let top = &r.hits[0];
    let (ft, vec) = (top.fulltext.as_ref().unwrap(), top.vector.as_ref().unwrap());
    assert_eq!((ft.rank, vec.rank), (1, 1));
    assert!((top.score - (ft.rrf + vec.rrf)).abs() < 1e-12);
    assert!((ft.rrf - 1.0 / 61.0).abs() < 1e-12);
    assert!(top.chunk.contains("container image"));
    assert!(!r.hits.iter().any(|h| h.path == "recipes/cake.md"), "unrelated text stays out: {:#?}", r.hits);

    let only_src = memory.search("deploy registry", 5, "src/").await.unwrap();
    assert!(
        !only_src.hits.is_empty() && only_src.hits.iter().all(|h| h.path.starts_with("src/")),
        "{:#?}",
        only_src.hits
    );
    let cake = memory.search("lemon cake", 5, "").await.unwrap();
    assert_eq!(cake.hits[0].path, "recipes/cake.md");
}

async fn the_index_follows_moves_and_deletes(db: &TestDb) {
    let memory = seeded(db, 60.0).await;
    let ws = memory.store().workspace();
    ws.rename("recipes/cake.md", "archive/cake.md").await.unwrap();
    memory.embed_all(|_, _| {}).await.unwrap();
    let r = memory.search("lemon cake", 5, "").await.unwrap();
    assert_eq!(r.hits[0].path, "archive/cake.md");
    assert!(r.hits.iter().all(|h| h.path != "recipes/cake.md"));
    ws.delete("archive/cake.md").await.unwrap();
    let r = memory.search("lemon cake", 5, "").await.unwrap();
    assert!(r.hits.iter().all(|h| !h.path.ends_with("cake.md")), "{:#?}", r.hits);
    // A new write is found by full text at once, before it is embedded.
    ws.write("notes/fresh.md", "zanzibar quokka migration notes", Origin::Operator).await.unwrap();
    let r = memory.search("quokka", 5, "").await.unwrap();
    assert_eq!(r.pending, 1);
    assert_eq!(r.hits[0].path, "notes/fresh.md");
    assert!(r.hits[0].fulltext.is_some() && r.hits[0].vector.is_none());
}

async fn rrf_k_is_configurable(db: &TestDb) {
    let memory = seeded(db, 1.0).await;
    let r = memory.search("deployment pipeline", 5, "").await.unwrap();
    let top = r.hits[0].fulltext.as_ref().unwrap();
    assert!((top.rrf - 0.5).abs() < 1e-12, "k = 1: the first rank contributes 1/2");
}

/// `claw memory write|ls|cat|search` with `CLAW_DATABASE_URL` naming `db`:
/// each command sees what the others did, `db` holds it all, and the
/// home's own SQLite file is never made.
async fn the_memory_cli_writes_lists_reads_and_searches_the_database_it_is_given(db: &TestDb) {
    let h = TestHome::on(db);
    let zebras = "Zebras in the Okavango migrate every November.";
    h.memory_write("notes/zebras.md", zebras);
    h.memory_write("recipes/cake.md", "Lemon cake: sugar, flour, lemons and butter.");

    let json = |args: &[&str]| -> serde_json::Value {
        let out = h.claw(args);
        ok(&out, &args.join(" "));
        serde_json::from_str(&stdout(&out)).unwrap()
    };
    let listed = json(&["--json", "memory", "ls", "notes/"]);
    let paths: Vec<&str> = listed.as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["notes/zebras.md"]);
    assert_eq!(listed[0]["size"], zebras.len());

    let cat = h.claw(&["memory", "cat", "notes/zebras.md"]);
    ok(&cat, "memory cat");
    assert_eq!(stdout(&cat), zebras);

    let found = json(&["--json", "memory", "search", "when do zebras migrate"]);
    assert_eq!(found["pending"], 0, "memory write embedded what it wrote");
    assert_eq!(found["hits"][0]["path"], "notes/zebras.md", "{found:#}");
    assert!(found["hits"][0]["vector"].is_object(), "both rankers found it: {found:#}");

    let store = db.store().await;
    let ws = store.workspace();
    assert_eq!(
        ws.read("notes/zebras.md").await.unwrap().expect("claw memory wrote to the database it was given").content,
        zebras,
        "in {}",
        store.backend()
    );
    assert_eq!(ws.list("").await.unwrap().len(), 2);
    assert!(!h.has_default_store(), "nothing went to the home's own SQLite file");
}
