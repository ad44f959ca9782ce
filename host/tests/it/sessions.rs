//! Sessions on both backends: one active per conversation, ordered
//! appends, `/new` retiring the old one (kept), summaries.

use crate::db::TestDb;
use crate::on_both_backends;
use claw::store::sessions::{StoredCall, StoredMessage};

on_both_backends!(sessions_persist_in_order_and_new_retires_the_old_one);

async fn sessions_persist_in_order_and_new_retires_the_old_one(db: &TestDb) {
    let store = db.store().await;
    let s = store.sessions();
    let first = s.active("repl", "terminal").await.unwrap();
    assert_eq!(s.active("repl", "terminal").await.unwrap().id, first.id, "the same session stays active");
    assert_ne!(s.active("cli", "terminal").await.unwrap().id, first.id, "channels do not share sessions");

    let mut call = StoredMessage::new("assistant", "");
    call.tool_calls = vec![StoredCall { id: "c1".into(), name: "echo".into(), arguments: "{\"text\":\"x\"}".into() }];
    let mut result = StoredMessage::new("tool", "x");
    result.tool_call_id = Some("c1".into());
    let stored = s.append(&first.id, vec![StoredMessage::new("user", "hi"), call, result]).await.unwrap();
    assert_eq!(stored.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
    let more = s.append(&first.id, vec![StoredMessage::new("assistant", "done")]).await.unwrap();
    assert_eq!(more[0].seq, 4);

    let all = s.messages(&first.id, 0).await.unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[1].tool_calls[0].name, "echo");
    assert_eq!(all[2].tool_call_id.as_deref(), Some("c1"));
    assert_eq!(s.messages(&first.id, 2).await.unwrap().len(), 2);

    s.summarise(&first.id, "they said hi", 2).await.unwrap();
    let again = s.active("repl", "terminal").await.unwrap();
    assert_eq!((again.summary.as_deref(), again.summarised_through), (Some("they said hi"), 2));

    let second = s.start_new("repl", "terminal").await.unwrap();
    assert_ne!(second.id, first.id);
    assert_eq!(s.active("repl", "terminal").await.unwrap().id, second.id);
    assert!(s.messages(&second.id, 0).await.unwrap().is_empty());
    assert_eq!(s.messages(&first.id, 0).await.unwrap().len(), 4, "the retired session is kept");
}
