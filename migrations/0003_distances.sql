CREATE TABLE "distances" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"key" text NOT NULL,
	"from_checkpoint_id" uuid NOT NULL,
	"to_checkpoint_id" uuid NOT NULL,
	"metric" text NOT NULL,
	"blocks" text[],
	"tensor_count" integer NOT NULL,
	"value" double precision NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "distances_key_unique" UNIQUE("key")
);
--> statement-breakpoint
ALTER TABLE "distances" ADD CONSTRAINT "distances_from_checkpoint_id_checkpoints_id_fk" FOREIGN KEY ("from_checkpoint_id") REFERENCES "public"."checkpoints"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "distances" ADD CONSTRAINT "distances_to_checkpoint_id_checkpoints_id_fk" FOREIGN KEY ("to_checkpoint_id") REFERENCES "public"."checkpoints"("id") ON DELETE restrict ON UPDATE no action;