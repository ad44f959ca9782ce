-- Who last wrote each document: `operator`, or `component:NAME`. Trust
-- follows this, not the text: an identity file a component wrote is never
-- the operator's word. Documents from before this migration that carry
-- injection flags came from a component; the rest are taken as the
-- operator's (the CLI was the only other writer).
ALTER TABLE documents ADD COLUMN written_by TEXT NOT NULL DEFAULT 'operator';
UPDATE documents SET written_by = 'component' WHERE flagged IS NOT NULL;
