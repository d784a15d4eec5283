#!/bin/sh
# Records one visit in the data folder and reports how many there were.
echo "version $APP_VERSION: $GREETING" >> /data/visits.txt
echo "$GREETING! This is version $APP_VERSION; visits so far: $(wc -l < /data/visits.txt)"
