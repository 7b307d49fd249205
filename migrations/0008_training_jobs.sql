CREATE TABLE "training_jobs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"run_id" uuid NOT NULL,
	"spec" jsonb NOT NULL,
	"status" text DEFAULT 'QUEUED' NOT NULL,
	"epoch" integer DEFAULT 0 NOT NULL,
	"epochs" integer NOT NULL,
	"step" integer DEFAULT 0 NOT NULL,
	"train_loss" double precision,
	"attempts" integer DEFAULT 0 NOT NULL,
	"failure_code" text,
	"failure_message" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "training_jobs_run_id_unique" UNIQUE("run_id")
);
--> statement-breakpoint
ALTER TABLE "training_jobs" ADD CONSTRAINT "training_jobs_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "training_jobs_status_idx" ON "training_jobs" USING btree ("status");