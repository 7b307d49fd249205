CREATE TABLE "architectures" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"uri" text NOT NULL,
	"bucket" text NOT NULL,
	"key" text NOT NULL,
	"size" bigint NOT NULL,
	"etag" text NOT NULL,
	"sha256" text NOT NULL,
	"opset" integer NOT NULL,
	"input_shape" jsonb NOT NULL,
	"outputs" integer NOT NULL,
	"parameters" jsonb NOT NULL,
	"ops" jsonb NOT NULL,
	"unsupported_ops" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "architectures_name_unique" UNIQUE("name")
);
