-- document_versions.created_by and pronunciation_feedback.reviewed_by keep the specification's
-- NO ACTION, but checked at commit. Checked immediately, as in the specification, PostgreSQL runs
-- the check before the cascades from users, so a learner who ever saved a version of their own
-- document, or reviewed their own feedback, could never be deleted. Deferred, deleting a user
-- cascades as intended, and deleting a user still referenced by someone else's rows is refused.
ALTER TABLE "document_versions" ALTER CONSTRAINT "document_versions_created_by_users_id_fk" DEFERRABLE INITIALLY DEFERRED;
--> statement-breakpoint
ALTER TABLE "pronunciation_feedback" ALTER CONSTRAINT "pronunciation_feedback_reviewed_by_users_id_fk" DEFERRABLE INITIALLY DEFERRED;
