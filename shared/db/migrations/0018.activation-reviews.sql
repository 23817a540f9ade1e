-- Reviews of pending activations long after their run (the review poller, services/push_worker/review.py):
-- how often the platform was asked, and when to ask again (backing off from seconds to an hour).
-- depends: 0017.auto-retry

ALTER TABLE activations
    ADD COLUMN review_checks int NOT NULL DEFAULT 0,
    ADD COLUMN next_review_at timestamptz;

-- A push run's items still under review, counted on its status document.
CREATE INDEX activations_pending_by_run ON activations (last_run_id) WHERE state = 'pending';
