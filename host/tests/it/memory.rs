//! Memory search: chunks kept in step with documents, hybrid retrieval by
//! RRF with each ranker's contribution, prefix filters — on both backends.

use crate::db::TestDb;
use crate::on_both_backends;
use claw::memory::index::{Embedder, Memory};
use claw::store::workspace::Origin;

on_both_backends!(hybrid_search_finds_and_explains, the_index_follows_moves_and_deletes, rrf_k_is_configurable);

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
