// Connects with the URI in DATABASE_URL, as an application using pgx would, and prints who and where it is.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"
)

func main() {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "connect:", err)
		os.Exit(1)
	}
	defer conn.Close(ctx)
	var user, database string
	if err := conn.QueryRow(ctx, "SELECT current_user, current_database()").Scan(&user, &database); err != nil {
		fmt.Fprintln(os.Stderr, "query:", err)
		os.Exit(1)
	}
	fmt.Printf("%s\n%s\n", user, database)
}
