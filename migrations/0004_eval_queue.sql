CREATE TABLE "path_tasks" (
	"path_id" uuid NOT NULL,
	"alpha" double precision NOT NULL,
	"job_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "path_tasks_pkey" PRIMARY KEY("path_id","alpha")
);
--> statement-breakpoint
ALTER TABLE "path_points" ADD COLUMN "evaluations" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "paths" ADD COLUMN "failure_code" text;--> statement-breakpoint
ALTER TABLE "paths" ADD COLUMN "failure_message" text;--> statement-breakpoint
ALTER TABLE "paths" ADD COLUMN "failed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "path_tasks" ADD CONSTRAINT "path_tasks_path_id_paths_id_fk" FOREIGN KEY ("path_id") REFERENCES "public"."paths"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "path_tasks_job_idx" ON "path_tasks" USING btree ("job_id");