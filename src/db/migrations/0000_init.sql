CREATE TYPE "public"."user_role" AS ENUM('admin', 'storekeeper', 'engineer');--> statement-breakpoint
CREATE TYPE "public"."operation_status" AS ENUM('success', 'discrepancy', 'manual_check');--> statement-breakpoint
CREATE TYPE "public"."operation_type" AS ENUM('checkout', 'checkin');--> statement-breakpoint
CREATE TYPE "public"."review_decision" AS ENUM('confirmed', 'marked_missing');--> statement-breakpoint
CREATE TABLE "users" (
	"id" serial PRIMARY KEY NOT NULL,
	"employee_number" text NOT NULL,
	"full_name" text NOT NULL,
	"role" "user_role" NOT NULL,
	"password_hash" text NOT NULL,
	"is_active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_employee_number_unique" UNIQUE("employee_number")
);
--> statement-breakpoint
CREATE TABLE "class_thresholds" (
	"class_key" text PRIMARY KEY NOT NULL,
	"threshold" real NOT NULL,
	"updated_by" integer,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "model_class_aliases" (
	"model_class_name" text PRIMARY KEY NOT NULL,
	"class_key" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tools" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"serial_number" text,
	"category" text,
	"class_key" text NOT NULL,
	"is_active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tools_serial_number_unique" UNIQUE("serial_number")
);
--> statement-breakpoint
CREATE TABLE "toolkit_items" (
	"id" serial PRIMARY KEY NOT NULL,
	"toolkit_id" integer NOT NULL,
	"tool_id" integer NOT NULL,
	"quantity" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "toolkit_items_toolkit_tool_uq" UNIQUE("toolkit_id","tool_id"),
	CONSTRAINT "toolkit_items_quantity_positive" CHECK ("toolkit_items"."quantity" > 0)
);
--> statement-breakpoint
CREATE TABLE "toolkits" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"is_active" boolean DEFAULT true NOT NULL,
	"holder_id" integer,
	"held_since" timestamp with time zone,
	"checkout_operation_id" integer,
	"flagged_operation_id" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "toolkits_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "operations" (
	"id" serial PRIMARY KEY NOT NULL,
	"user_id" integer NOT NULL,
	"acted_by_id" integer NOT NULL,
	"toolkit_id" integer NOT NULL,
	"operation_type" "operation_type" NOT NULL,
	"timestamp" timestamp with time zone DEFAULT now() NOT NULL,
	"status" "operation_status" NOT NULL,
	"match_percentage" real,
	"result_json" jsonb NOT NULL,
	"model_sha256" text NOT NULL,
	"original_image_key" text NOT NULL,
	"annotated_image_key" text NOT NULL,
	"resolved_at" timestamp with time zone,
	"resolved_by_id" integer,
	"resolution" "review_decision",
	"resolution_note" text
);
--> statement-breakpoint
CREATE TABLE "review_audit" (
	"id" serial PRIMARY KEY NOT NULL,
	"operation_id" integer NOT NULL,
	"reviewer_id" integer NOT NULL,
	"decision" "review_decision" NOT NULL,
	"note" text,
	"before" jsonb NOT NULL,
	"after" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "predictions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" integer,
	"toolkit_id" integer,
	"job_id" text,
	"original_image_key" text,
	"annotated_image_key" text NOT NULL,
	"result_json" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "class_thresholds" ADD CONSTRAINT "class_thresholds_updated_by_users_id_fk" FOREIGN KEY ("updated_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "toolkit_items" ADD CONSTRAINT "toolkit_items_toolkit_id_toolkits_id_fk" FOREIGN KEY ("toolkit_id") REFERENCES "public"."toolkits"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "toolkit_items" ADD CONSTRAINT "toolkit_items_tool_id_tools_id_fk" FOREIGN KEY ("tool_id") REFERENCES "public"."tools"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "toolkits" ADD CONSTRAINT "toolkits_holder_id_users_id_fk" FOREIGN KEY ("holder_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "operations" ADD CONSTRAINT "operations_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "operations" ADD CONSTRAINT "operations_acted_by_id_users_id_fk" FOREIGN KEY ("acted_by_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "operations" ADD CONSTRAINT "operations_toolkit_id_toolkits_id_fk" FOREIGN KEY ("toolkit_id") REFERENCES "public"."toolkits"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "operations" ADD CONSTRAINT "operations_resolved_by_id_users_id_fk" FOREIGN KEY ("resolved_by_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "review_audit" ADD CONSTRAINT "review_audit_operation_id_operations_id_fk" FOREIGN KEY ("operation_id") REFERENCES "public"."operations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "review_audit" ADD CONSTRAINT "review_audit_reviewer_id_users_id_fk" FOREIGN KEY ("reviewer_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "predictions" ADD CONSTRAINT "predictions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "predictions" ADD CONSTRAINT "predictions_toolkit_id_toolkits_id_fk" FOREIGN KEY ("toolkit_id") REFERENCES "public"."toolkits"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "users_role_idx" ON "users" USING btree ("role");--> statement-breakpoint
CREATE INDEX "tools_class_key_idx" ON "tools" USING btree ("class_key");--> statement-breakpoint
CREATE INDEX "toolkits_holder_idx" ON "toolkits" USING btree ("holder_id");--> statement-breakpoint
CREATE INDEX "operations_user_time_idx" ON "operations" USING btree ("user_id","timestamp" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "operations_toolkit_time_idx" ON "operations" USING btree ("toolkit_id","timestamp" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "operations_status_time_idx" ON "operations" USING btree ("status","timestamp");--> statement-breakpoint
CREATE INDEX "operations_time_idx" ON "operations" USING btree ("timestamp" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "review_audit_operation_idx" ON "review_audit" USING btree ("operation_id");--> statement-breakpoint
CREATE INDEX "predictions_created_idx" ON "predictions" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "predictions_user_idx" ON "predictions" USING btree ("user_id");