CREATE TABLE "path_summaries" (
	"path_id" uuid NOT NULL,
	"grid" text NOT NULL,
	"version" text NOT NULL,
	"summary" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "path_summaries_pkey" PRIMARY KEY("path_id","grid")
);
--> statement-breakpoint
ALTER TABLE "path_summaries" ADD CONSTRAINT "path_summaries_path_id_paths_id_fk" FOREIGN KEY ("path_id") REFERENCES "public"."paths"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "paths_to_checkpoint_idx" ON "paths" USING btree ("to_checkpoint_id");--> statement-breakpoint
CREATE INDEX "checkpoints_object_idx" ON "checkpoints" USING btree ("bucket","key","etag");