CREATE TABLE "path_points" (
	"path_id" uuid NOT NULL,
	"alpha" double precision NOT NULL,
	"loss_sum" double precision NOT NULL,
	"correct" integer NOT NULL,
	"n" integer NOT NULL,
	"non_finite" integer NOT NULL,
	"engine" text NOT NULL,
	"engine_version" text NOT NULL,
	"duration_ms" real NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "path_points_pkey" PRIMARY KEY("path_id","alpha")
);
--> statement-breakpoint
CREATE TABLE "paths" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"key" text NOT NULL,
	"from_checkpoint_id" uuid NOT NULL,
	"to_checkpoint_id" uuid NOT NULL,
	"dataset_id" uuid NOT NULL,
	"blocks" text[],
	"moving_tensor_count" integer NOT NULL,
	"bn_stats" text DEFAULT 'INTERPOLATE' NOT NULL,
	"example_count" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "paths_key_unique" UNIQUE("key")
);
--> statement-breakpoint
ALTER TABLE "path_points" ADD CONSTRAINT "path_points_path_id_paths_id_fk" FOREIGN KEY ("path_id") REFERENCES "public"."paths"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "paths" ADD CONSTRAINT "paths_from_checkpoint_id_checkpoints_id_fk" FOREIGN KEY ("from_checkpoint_id") REFERENCES "public"."checkpoints"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "paths" ADD CONSTRAINT "paths_to_checkpoint_id_checkpoints_id_fk" FOREIGN KEY ("to_checkpoint_id") REFERENCES "public"."checkpoints"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "paths" ADD CONSTRAINT "paths_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "public"."datasets"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "paths_endpoints_idx" ON "paths" USING btree ("from_checkpoint_id","to_checkpoint_id");