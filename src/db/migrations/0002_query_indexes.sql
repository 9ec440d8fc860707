DROP INDEX "operations_time_idx";--> statement-breakpoint
DROP INDEX "review_audit_operation_idx";--> statement-breakpoint
DROP INDEX "operations_user_time_idx";--> statement-breakpoint
DROP INDEX "operations_toolkit_time_idx";--> statement-breakpoint
CREATE INDEX "operations_time_id_idx" ON "operations" USING btree ("timestamp" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "operations_open_review_idx" ON "operations" USING btree ("timestamp","id") WHERE "operations"."resolved_at" IS NULL AND "operations"."status" IN ('manual_check', 'discrepancy');--> statement-breakpoint
CREATE INDEX "operations_original_image_idx" ON "operations" USING btree ("original_image_key");--> statement-breakpoint
CREATE INDEX "operations_annotated_image_idx" ON "operations" USING btree ("annotated_image_key");--> statement-breakpoint
CREATE INDEX "predictions_original_image_idx" ON "predictions" USING btree ("original_image_key");--> statement-breakpoint
CREATE INDEX "predictions_annotated_image_idx" ON "predictions" USING btree ("annotated_image_key");--> statement-breakpoint
CREATE INDEX "job_items_prediction_idx" ON "job_items" USING btree ("prediction_id");--> statement-breakpoint
CREATE INDEX "operations_user_time_idx" ON "operations" USING btree ("user_id","timestamp" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "operations_toolkit_time_idx" ON "operations" USING btree ("toolkit_id","timestamp" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
ALTER TABLE "review_audit" ADD CONSTRAINT "review_audit_operation_uq" UNIQUE("operation_id");--> statement-breakpoint
ALTER TABLE "job_items" ADD CONSTRAINT "job_items_job_index_unique" UNIQUE("job_id","entry_index");--> statement-breakpoint
ALTER TABLE "class_thresholds" ADD CONSTRAINT "class_thresholds_threshold_range" CHECK ("class_thresholds"."threshold" >= 0 AND "class_thresholds"."threshold" <= 1);