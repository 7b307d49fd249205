CREATE TABLE "combination_points" (
	"combination_id" uuid NOT NULL,
	"coefficients" text NOT NULL,
	"loss_sum" double precision NOT NULL,
	"correct" integer NOT NULL,
	"n" integer NOT NULL,
	"non_finite" integer NOT NULL,
	"engine" text NOT NULL,
	"engine_version" text NOT NULL,
	"duration_ms" real NOT NULL,
	"evaluations" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "combination_points_pkey" PRIMARY KEY("combination_id","coefficients")
);
--> statement-breakpoint
CREATE TABLE "combination_tasks" (
	"combination_id" uuid NOT NULL,
	"coefficients" text NOT NULL,
	"job_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "combination_tasks_pkey" PRIMARY KEY("combination_id","coefficients")
);
--> statement-breakpoint
CREATE TABLE "combinations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"key" text NOT NULL,
	"architecture" text NOT NULL,
	"states" jsonb NOT NULL,
	"dataset_id" uuid NOT NULL,
	"bn_stats" text DEFAULT 'INTERPOLATE' NOT NULL,
	"bn_stats_dataset_id" uuid,
	"bn_stats_examples" integer,
	"example_count" integer NOT NULL,
	"failure_code" text,
	"failure_message" text,
	"failed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "combinations_key_unique" UNIQUE("key")
);
--> statement-breakpoint
ALTER TABLE "combination_points" ADD CONSTRAINT "combination_points_combination_id_combinations_id_fk" FOREIGN KEY ("combination_id") REFERENCES "public"."combinations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "combination_tasks" ADD CONSTRAINT "combination_tasks_combination_id_combinations_id_fk" FOREIGN KEY ("combination_id") REFERENCES "public"."combinations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "combinations" ADD CONSTRAINT "combinations_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "public"."datasets"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "combinations" ADD CONSTRAINT "combinations_bn_stats_dataset_id_datasets_id_fk" FOREIGN KEY ("bn_stats_dataset_id") REFERENCES "public"."datasets"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "combination_tasks_job_idx" ON "combination_tasks" USING btree ("job_id");